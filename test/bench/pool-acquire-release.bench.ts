// Cost of the pool's hot path with 10,000 slots (10 stand-in placements x 1,000 slots, no I/O):
// acquire + release (no reset), with every slot free, and with 9,999 busy (the free list holds
// one). TARGET: < 20 microseconds per acquire+release. Prints a table and writes
// results/pool-acquire-release-<time>.json. Run: npm run bench:startup
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { bench, describe } from 'vitest';
import { projectRoot } from '../../src/common/paths.js';
import type { Driver } from '../../src/drivers/driver.js';
import { SlotPool } from '../../src/pool/slot-pool.js';
import type { Slot } from '../../src/pool/slot.js';
import { StandInConnection, type StandInPlacement, StandInScheduler } from '../../src/pool/testing/stand-in.js';

const PLACEMENTS = 10;
const SLOTS_PER_PLACEMENT = 1_000;
const TARGET_US = 20;

async function makePool(): Promise<SlotPool> {
  const pool = new SlotPool({
    scheduler: new StandInScheduler(),
    request: { driver: { name: 'process' } as Driver, spec: { slots: SLOTS_PER_PLACEMENT, envAllowlist: [], env: {}, isolation: 'off' }, ports: { mode: 'dynamic' } },
    connect: (p) => new StandInConnection(p as StandInPlacement),
    minPlacements: PLACEMENTS,
    maxPlacements: PLACEMENTS,
  });
  await pool.start();
  return pool;
}

describe('SlotPool hot path', () => {
  bench(
    `acquire+release with ${PLACEMENTS * SLOTS_PER_PLACEMENT} slots`,
    async () => {
      const allFree = await makePool();
      const oneFree = await makePool();
      const held: Slot[] = [];
      for (let i = 0; i < PLACEMENTS * SLOTS_PER_PLACEMENT - 1; i++) held.push(await oneFree.acquire(`hold-${i}`));
      let n = 0;
      const tb = new Bench({ name: 'pool acquire+release', time: 1_000, warmupTime: 200 });
      tb.add('10,000 free', async () => {
        const slot = await allFree.acquire(`t${n++}`);
        await slot.release({ reset: false });
      });
      tb.add('1 free, 9,999 busy', async () => {
        const slot = await oneFree.acquire(`t${n++}`);
        await slot.release({ reset: false });
      });
      await tb.run();
      const rows = tb.tasks.map((task) => {
        const result = task.result as { state: string; latency?: { mean: number; p50?: number; p99?: number }; throughput?: { mean: number } };
        const meanUs = (result.latency?.mean ?? NaN) * 1_000;
        return {
          case: task.name,
          'mean µs/op': meanUs.toFixed(2),
          'p50 µs': ((result.latency?.p50 ?? NaN) * 1_000).toFixed(2),
          'p99 µs': ((result.latency?.p99 ?? NaN) * 1_000).toFixed(2),
          'ops/s': Math.round(result.throughput?.mean ?? NaN),
          [`< ${TARGET_US} µs`]: meanUs < TARGET_US ? 'yes' : 'NO',
        };
      });
      console.table(rows);
      for (const slot of held) await slot.release({ reset: false });
      await Promise.all([allFree.close(), oneFree.close()]);
      const dir = join(projectRoot(), 'results');
      await mkdir(dir, { recursive: true });
      const file = join(dir, `pool-acquire-release-${new Date().toISOString().replaceAll(':', '-')}.json`);
      await writeFile(file, JSON.stringify({ benchmark: 'SlotPool acquire+release', when: new Date().toISOString(), node: process.version, slots: PLACEMENTS * SLOTS_PER_PLACEMENT, targetMicroseconds: TARGET_US, rows }, null, 2));
      console.log(`saved ${file}`);
    },
    { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 },
  );
});
