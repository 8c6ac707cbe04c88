// Boot to healthy of `hpc-sandbox serve` (the CLI bundle) against the bundled server
// (dist/sandbox-server.mjs) and a bare `node -e 0`, measured side by side in one run, as ratios.
// The CLI loads each command's modules on use, so serve should cost what the bundle costs.
// Prints a table and writes results/serve-boot-<time>.json. Run: npm run bench:startup
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bench, describe } from 'vitest';
import { freePort } from '../../src/common/free-port.js';
import { projectRoot } from '../../src/common/paths.js';
import { makeSlotReachableTempDir } from '../../src/common/slot-reachable-temp-dir.js';
import { computeStatistics } from '../../src/common/statistics.js';

const ROUNDS = 15;
const SLOTS = 8;

/** Milliseconds from spawn to the first 200 on /health; the server is stopped afterwards. */
async function bootToHealthy(argv: string[], dataDir: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [...argv, '--port', String(port), '--slots', String(SLOTS), '--data-dir', dataDir], { stdio: 'ignore' });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited with ${child.exitCode} before it was healthy`);
      const healthy = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (healthy) return performance.now() - started;
      await sleep(2);
    }
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

/** Milliseconds from spawn to exit of `node -e 0`: the floor any Node server pays. */
async function bareNode(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  return performance.now() - started;
}

describe('serve boot to healthy', () => {
  bench(
    `hpc-sandbox serve vs bundled server vs node -e 0 (${SLOTS} slots, ${ROUNDS} rounds)`,
    async () => {
      const scratch = await makeSlotReachableTempDir('hpcsb-boot-');
      try {
        const cases = {
          'node -e 0': () => bareNode(),
          'dist/sandbox-server.mjs': (i: number) => bootToHealthy([join(projectRoot(), 'dist', 'sandbox-server.mjs')], join(scratch, `bundle-${i}`)),
          'hpc-sandbox serve': (i: number) => bootToHealthy([join(projectRoot(), 'dist', 'cli', 'main.js'), 'serve'], join(scratch, `cli-${i}`)),
        };
        const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
        // Interleaved rounds: a slow stretch of the machine hits every case alike.
        for (let i = 0; i < ROUNDS; i++) {
          for (const [name, run] of Object.entries(cases)) samples[name]!.push(await run(i));
        }
        const floor = computeStatistics(samples['node -e 0']!).median;
        const bundle = computeStatistics(samples['dist/sandbox-server.mjs']!).median;
        const rows = Object.entries(samples).map(([name, values]) => {
          const stats = computeStatistics(values);
          return { case: name, 'median ms': stats.median.toFixed(1), 'p95 ms': stats.p95.toFixed(1), 'x node -e 0': (stats.median / floor).toFixed(2), 'x bundle': (stats.median / bundle).toFixed(2) };
        });
        console.table(rows);
        const out = join(projectRoot(), 'results');
        await mkdir(out, { recursive: true });
        await writeFile(join(out, `serve-boot-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ rounds: ROUNDS, slots: SLOTS, rows, samples }, null, 2));
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
    { iterations: 1, warmupIterations: 0 },
  );
});
