import { spawn } from 'node:child_process';
import { access } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { type BundledFixture, bundleFixture } from './fixtures/bundle-fixture.js';
import { processGroupMembers } from './process-runner.js';

const exists = (path: string) => access(path).then(() => true, () => false);

describeWith([], 'local scheduler exit hook', () => {
  let fixture: BundledFixture;

  beforeAll(async () => {
    fixture = await bundleFixture('place-and-wait');
  });

  afterAll(async () => {
    await fixture?.remove();
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'exit'] as const) {
    it(signal === 'exit' ? 'kills every placement and removes its dirs when the parent exits without stopping them' : `stops every placement when the parent gets ${signal}`, async () => {
      const child = spawn(process.execPath, [fixture.script, signal], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, sig) => resolve({ code, signal: sig })),
      );
      try {
        const line = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
            if (out.includes('\n')) resolve(out.split('\n')[0]!);
          });
          void exited.then(() => reject(new Error(`child exited early: ${stderr}`)));
        });
        const where = JSON.parse(line) as { processGroup: number; allocDir: string; baseDir: string };
        expect(processGroupMembers(where.processGroup).length).toBeGreaterThan(0);
        expect(await exists(where.allocDir)).toBe(true);

        if (signal === 'exit') {
          child.kill('SIGUSR1');
          expect(await exited).toEqual({ code: 0, signal: null });
        } else {
          child.kill(signal);
          // The hook stops the placements, then re-raises the signal: the parent dies of it.
          expect(await exited).toEqual({ code: null, signal });
        }
        expect(processGroupMembers(where.processGroup)).toEqual([]);
        expect(await exists(where.allocDir)).toBe(false);
        expect(await exists(where.baseDir)).toBe(false);
      } finally {
        child.kill('SIGKILL');
      }
    });
  }
});
