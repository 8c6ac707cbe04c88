/** Collects a stream up to a byte budget; UTF-8 needs at most 4 bytes a character. */
export class CappedBuffer {
  readonly #chunks: Buffer[] = [];
  #bytes = 0;
  overflow = false;
  constructor(private readonly maxBytes: number) {}
  /** Keeps what fits; returns the part kept (empty once full). */
  push(chunk: Buffer): Buffer {
    if (this.#bytes >= this.maxBytes) {
      if (chunk.length > 0) this.overflow = true;
      return chunk.subarray(0, 0);
    }
    const room = this.maxBytes - this.#bytes;
    if (chunk.length > room) this.overflow = true;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#chunks.push(kept);
    this.#bytes += kept.length;
    return kept;
  }
  text(maxChars: number): { text: string; truncated: boolean } {
    const text = Buffer.concat(this.#chunks).toString('utf8');
    if (text.length > maxChars) return { text: text.slice(0, maxChars), truncated: true };
    return { text, truncated: this.overflow };
  }
}

/** What a finished command reports of its output: both streams cut to `maxChars`, and the time it took. */
export function capturedOutput(stdout: CappedBuffer, stderr: CappedBuffer, maxChars: number, startedAt: number): { stdout: string; stderr: string; truncated: boolean; durationMs: number } {
  const out = stdout.text(maxChars);
  const err = stderr.text(maxChars);
  return { stdout: out.text, stderr: err.text, truncated: out.truncated || err.truncated, durationMs: Math.round((performance.now() - startedAt) * 100) / 100 };
}
