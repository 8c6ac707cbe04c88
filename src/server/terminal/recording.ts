/**
 * The recording `tmux stream` reads: every byte the session's panes printed, as raw terminal
 * output, addressed by absolute offsets from the start of the session. It keeps at most
 * `capBytes` (the newest): a long-running session costs bounded memory, and a reader that fell
 * further behind is told how many bytes it missed.
 */
export class Recording {
  #chunks: Buffer[] = [];
  #bytes = 0;
  /** Absolute offset of the first byte still held. */
  #start = 0;

  constructor(readonly capBytes: number) {}

  /** Absolute offset one past the newest byte (what was recorded in all). */
  get end(): number {
    return this.#start + this.#bytes;
  }

  /** Absolute offset of the oldest byte still held. */
  get start(): number {
    return this.#start;
  }

  append(data: Buffer): void {
    if (data.length === 0) return;
    if (data.length >= this.capBytes) {
      this.#start += this.#bytes + data.length - this.capBytes;
      this.#chunks = [Buffer.from(data.subarray(data.length - this.capBytes))];
      this.#bytes = this.capBytes;
      return;
    }
    this.#chunks.push(Buffer.from(data));
    this.#bytes += data.length;
    // Drop whole old chunks, then cut the oldest kept one, until within the cap.
    while (this.#bytes > this.capBytes) {
      const first = this.#chunks[0]!;
      const excess = this.#bytes - this.capBytes;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#bytes -= first.length;
        this.#start += first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#bytes -= excess;
        this.#start += excess;
      }
    }
  }

  /**
   * Up to `maxBytes` from absolute `offset` (clamped to what is held). The cut never splits a
   * UTF-8 character, so the text decodes cleanly; `skipped` counts bytes older than the cap.
   */
  read(offset: number, maxBytes: number): { data: Buffer; from: number; next: number; skipped: number } {
    const from = Math.min(Math.max(offset, this.#start), this.end);
    const skipped = Math.max(0, this.#start - offset);
    let want = Math.min(maxBytes, this.end - from);
    const all = this.#slice(from - this.#start, want + 3);
    // Back off over a trailing partial UTF-8 sequence (continuation bytes 10xxxxxx after a lead byte).
    if (want < all.length) {
      let cut = want;
      while (cut > 0 && cut > want - 3 && (all[cut]! & 0xc0) === 0x80) cut--;
      if (cut > 0) want = cut;
    }
    const data = all.subarray(0, want);
    return { data, from, next: from + data.length, skipped };
  }

  #slice(relative: number, length: number): Buffer {
    const parts: Buffer[] = [];
    let skip = relative;
    let left = length;
    for (const chunk of this.#chunks) {
      if (left <= 0) break;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const part = chunk.subarray(skip, Math.min(chunk.length, skip + left));
      parts.push(part);
      left -= part.length;
      skip = 0;
    }
    return Buffer.concat(parts);
  }

  clear(): void {
    this.#start = this.end;
    this.#chunks = [];
    this.#bytes = 0;
  }
}
