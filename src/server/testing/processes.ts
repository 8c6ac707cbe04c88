import { readdirSync, readFileSync } from 'node:fs';

/** Pids whose command line contains `marker` (test helper: proves nothing was left behind). */
export function pidsWithMarker(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmdline.includes(marker)) out.push(pid);
    } catch {
      // exited
    }
  }
  return out;
}

/** A number unlikely to appear in any other command line (used as a `sleep` argument). */
export function uniqueSleepSeconds(): number {
  return 900_000 + Math.floor(Math.random() * 99_999);
}

/** Resolves when `predicate` holds, polling every 10 ms, or rejects after `timeoutMs`. */
export async function eventually(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
