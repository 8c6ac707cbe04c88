/**
 * LIFO stack of free items with lazy removal: withdrawing many items (a lost placement) marks them
 * stale instead of searching the stack; `pop` skips stale ones. Push and pop are amortised O(1).
 * LIFO on purpose: recently used placements stay busy and idle ones cool down, so scale-down finds them.
 */
export class FreeList<T> {
  #items: T[] = [];
  readonly #isUsable: (item: T) => boolean;

  /** @param isUsable false for an item withdrawn while it sat in the list. */
  constructor(isUsable: (item: T) => boolean) {
    this.#isUsable = isUsable;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The most recently pushed usable item, or undefined. */
  pop(): T | undefined {
    for (;;) {
      const item = this.#items.pop();
      if (item === undefined || this.#isUsable(item)) return item;
    }
  }

  /** Drops stale items (keeps memory bounded after withdrawals). O(n); call rarely. */
  compact(): void {
    this.#items = this.#items.filter(this.#isUsable);
  }

  /** Items held, stale ones included. */
  get capacity(): number {
    return this.#items.length;
  }
}

/** FIFO queue with O(1) enqueue/dequeue; cancelled entries are skipped lazily by the caller. */
export class FifoQueue<T> {
  #items: Array<T | undefined> = [];
  #head = 0;

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Reclaim the consumed prefix once it dominates, so the array does not grow forever.
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  get length(): number {
    return this.#items.length - this.#head;
  }
}
