import { describe, expect, it } from 'vitest';
import { FifoQueue, FreeList } from './free-list.js';

describe('FreeList', () => {
  it('pops the most recent usable item and skips withdrawn ones', () => {
    const withdrawn = new Set<number>();
    const list = new FreeList<number>((n) => !withdrawn.has(n));
    for (const n of [1, 2, 3, 4]) list.push(n);
    withdrawn.add(4).add(2);
    expect(list.pop()).toBe(3);
    expect(list.pop()).toBe(1);
    expect(list.pop()).toBeUndefined();
  });

  it('compacts away stale items', () => {
    const list = new FreeList<number>((n) => n % 2 === 0);
    for (let n = 0; n < 10; n++) list.push(n);
    list.compact();
    expect(list.capacity).toBe(5);
  });
});

describe('FifoQueue', () => {
  it('keeps order across many pushes and shifts', () => {
    const queue = new FifoQueue<number>();
    const out: number[] = [];
    for (let n = 0; n < 5000; n++) {
      queue.push(n);
      if (n % 3 === 0) out.push(queue.shift()!);
    }
    while (queue.length > 0) out.push(queue.shift()!);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, n) => n));
    expect(queue.shift()).toBeUndefined();
  });
});
