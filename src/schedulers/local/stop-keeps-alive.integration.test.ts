import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { type BundledFixture, bundleFixture } from './fixtures/bundle-fixture.js';
import { processGroupMembers } from './process-runner.js';

const exists = (path: string) => access(path).then(() => true, () => false);

describeWith([], 'local scheduler stop() in a script with nothing else to do', () => {
  let fixture: BundledFixture;

  beforeAll(async () => {
    fixture = await bundleFixture('place-and-stop');
  });

  afterAll(async () => {
    await fixture?.remove();
  });

  // Grace 0: stop() SIGKILLs at once and then only awaits the exit, with no timer of its own
  // running; grace 1000: the usual SIGTERM path.
  for (const graceMs of [0, 1_000]) {
    it(`keeps Node running until the stop is done (stop grace ${graceMs} ms), so the line after it runs`, async () => {
      const child = spawn(process.execPath, [fixture.script, String(graceMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      try {
        const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
          child.once('close', (code, signal) => resolve({ code, signal })),
        );
        // Code 13 is Node's "unsettled top-level await": it left while stop() was still awaited.
        expect({ ...exit, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
        const lines = stdout.trimEnd().split('\n');
        expect(lines.at(-1)).toBe('stopped');
        const where = JSON.parse(lines[0]!) as { processGroup: number; allocDir: string; baseDir: string };
        expect(processGroupMembers(where.processGroup)).toEqual([]);
        expect(await exists(where.allocDir)).toBe(false);
        // The scheduler was never closed: its exit hook removed the base dir when the script ended.
        expect(await exists(where.baseDir)).toBe(false);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
