import { access } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { describeWith } from '../../test/gate.js';
import { getDriver } from '../drivers/index.js';
import { LocalScheduler } from '../schedulers/local/local-scheduler.js';
import type { LocalPlacement } from '../schedulers/local/local-placement.js';
import { processGroupMembers } from '../schedulers/local/process-runner.js';
import { findOnPath } from '../server/find-on-path.js';
import { SlotPool } from './slot-pool.js';

const exists = (path: string) => access(path).then(() => true, () => false);

describeWith([], 'SlotPool over local x process', () => {
  it('serves concurrent trajectories exclusively, scales up on demand and back down after the cooldown', async () => {
    const scheduler = new LocalScheduler({ stopGraceMs: 2_000 });
    const pool = new SlotPool({
      scheduler,
      request: { driver: getDriver('process'), spec: { slots: 2, envAllowlist: [], env: {}, isolation: 'auto' }, ports: { mode: 'dynamic' } },
      minPlacements: 1,
      maxPlacements: 3,
      scaleDownCooldownMs: 500,
    });
    const seen: LocalPlacement[] = [];
    try {
      await pool.start();
      // 12 trajectories on at most 6 slots: each writes its own marker, and must read back only it.
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          pool.withSlot(`traj-${i}`, async (slot) => {
            for (const p of pool.placements) if (!seen.includes(p as LocalPlacement)) seen.push(p as LocalPlacement);
            await slot.writeFile('owner.txt', `traj-${i}`);
            await new Promise((r) => setTimeout(r, 50));
            const listing = await slot.bash('cat owner.txt; echo; ls -A | wc -l');
            return listing.output;
          }),
        ),
      );
      results.forEach((output, i) => expect(output).toBe(`traj-${i}\n1`));
      expect(pool.stats().lost).toBe(0);
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.length).toBeLessThanOrEqual(3);

      for (let i = 0; i < 200 && pool.stats().placements > 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(pool.stats()).toMatchObject({ placements: 1, busy: 0 });
      expect(pool.stats().scaledDown).toBe(seen.length - 1);
    } finally {
      await pool.close();
      await scheduler.close();
    }
    for (const placement of seen) {
      expect(processGroupMembers(placement.processGroup!)).toEqual([]);
      expect(await exists(placement.allocDir)).toBe(false);
    }
  });

  it.skipIf(!findOnPath('tmux'))('gives a trajectory a terminal session (bashStateful, tmux) that its release ends', async () => {
    const scheduler = new LocalScheduler({ stopGraceMs: 2_000 });
    const pool = new SlotPool({
      scheduler,
      request: { driver: getDriver('process'), spec: { slots: 1, envAllowlist: [], env: {}, isolation: 'auto' }, ports: { mode: 'dynamic' } },
      minPlacements: 1,
      maxPlacements: 1,
    });
    try {
      await pool.start();
      await pool.withSlot('traj-a', async (slot) => {
        await slot.bashStateful('cd /tmp && export OWNER=a');
        expect((await slot.bashStateful('echo "$PWD $OWNER"')).output).toBe('/tmp a');
        expect((await slot.tmux({ action: 'send_keys', keys: ['echo keys-a', 'Enter'], block: true })).success).toBe(true);
        expect((await slot.tmux({ action: 'capture' })).output).toContain('keys-a');
      });
      const after = await pool.withSlot('traj-b', (slot) => slot.bashStateful('echo "[$OWNER] $PWD"'));
      expect(after.output).toMatch(/^\[\] .*(\/workspace|slot_0)$/);
    } finally {
      await pool.close();
      await scheduler.close();
    }
  });
});
