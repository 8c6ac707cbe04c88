import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError } from '../errors.js';
import type { PlacementRequest } from '../schedulers/scheduler.js';
import type { Driver } from '../drivers/driver.js';
import { AcquireTimeoutError, PlacementLostError } from './errors.js';
import { SlotPool, type SlotPoolOptions } from './slot-pool.js';
import { StandInConnection, type StandInPlacement, StandInScheduler } from './testing/stand-in.js';

const driver = { name: 'process' } as Driver;
const request = (slots: number): PlacementRequest => ({
  driver,
  spec: { slots, envAllowlist: [], env: {}, isolation: 'off' },
  ports: { mode: 'dynamic' },
});

const pools: SlotPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function makePool(slots: number, options: Partial<SlotPoolOptions> = {}) {
  const scheduler = new StandInScheduler();
  const connections = new Map<string, StandInConnection>();
  const pool = new SlotPool({
    scheduler,
    request: request(slots),
    connect: (p) => {
      const c = new StandInConnection(p as StandInPlacement);
      connections.set(p.id, c);
      return c;
    },
    healthIntervalMs: 60_000,
    retryBackoffMs: 10,
    ...options,
  });
  pools.push(pool);
  return { pool, scheduler, connections };
}

const until = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!condition()) throw new Error(`condition never held: ${what}`);
};

describe('SlotPool', () => {
  it('starts minPlacements, hands out slots, runs tools and resets on release', async () => {
    const { pool, scheduler, connections } = makePool(2, { minPlacements: 1 });
    await pool.start();
    expect(scheduler.placed).toHaveLength(1);
    expect(pool.stats()).toMatchObject({ placements: 1, slots: 2, free: 2, busy: 0 });

    const slot = await pool.acquire('traj-1');
    expect(slot.trajectoryId).toBe('traj-1');
    expect(pool.stats()).toMatchObject({ free: 1, busy: 1 });
    const result = await slot.bash('echo hi');
    expect(result.output).toBe(`stand-in-0/${slot.slotId}: echo hi`);
    const [a, b] = await slot.batch([
      { tool: 'bash', args: { command: 'one' } },
      { tool: 'bash', args: { command: 'two' } },
    ]);
    expect([a?.output, b?.output]).toEqual([`stand-in-0/${slot.slotId}: one`, `stand-in-0/${slot.slotId}: two`]);

    await slot.release();
    expect(connections.get('stand-in-0')!.resets).toEqual([slot.slotId]);
    expect(pool.stats()).toMatchObject({ free: 2, busy: 0 });
  });

  it('refuses a released handle, even after its slot went to another holder', async () => {
    const { pool } = makePool(1);
    const first = await pool.acquire('a');
    await first.release({ reset: false });
    const second = await pool.acquire('b');
    expect(second.slotId).toBe(first.slotId);
    await expect(first.bash('ls')).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_SLOT_RELEASED'));
    await expect(first.bash('ls')).rejects.toThrowError(`Cannot bash on ${first.slotId} of stand-in-0: this handle was released`);
    expect((await second.bash('ls')).success).toBe(true);
  });

  it('never hands one slot to two holders under concurrent acquire/release', async () => {
    const { pool } = makePool(3, { minPlacements: 1, maxPlacements: 2 });
    const holders = new Map<string, string>();
    let maxConcurrent = 0;
    let concurrent = 0;
    const run = async (i: number) => {
      for (let round = 0; round < 20; round++) {
        const slot = await pool.acquire(`t${i}`, { timeoutMs: 10_000 });
        const key = `${slot.placementId}/${slot.slotId}`;
        expect(holders.has(key), `${key} held by ${holders.get(key)} and t${i}`).toBe(false);
        holders.set(key, `t${i}`);
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((r) => setTimeout(r, (i * 7 + round) % 3));
        holders.delete(key);
        concurrent--;
        await slot.release({ reset: round % 2 === 0 });
      }
    };
    await Promise.all(Array.from({ length: 25 }, (_, i) => run(i)));
    expect(maxConcurrent).toBeLessThanOrEqual(6);
    expect(maxConcurrent).toBeGreaterThan(1);
    expect(pool.stats()).toMatchObject({ busy: 0, waiting: 0 });
  });

  it('times out an acquire with the slot counts when every slot is busy at maxPlacements', async () => {
    const { pool } = makePool(2, { maxPlacements: 1 });
    await pool.acquire('a');
    await pool.acquire('b');
    const error = await pool.acquire('traj-9', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect((error as AcquireTimeoutError).code).toBe('HPCSB_ACQUIRE_TIMEOUT');
    expect((error as Error).message).toBe(
      'Timed out after 50ms acquiring a slot for trajectory traj-9: 2 slots in 1 placements (at maxPlacements 1), 2 busy, 0 free; 0 placements starting, 1 acquires waiting',
    );
    expect(pool.stats().waiting).toBe(0);
  });

  it('start() fails when no placement can start', async () => {
    const { pool, scheduler } = makePool(1, { retryBackoffMs: 10_000 });
    scheduler.failNext = 1;
    await expect(pool.start()).rejects.toThrowError('SlotPool could not start any of its 1 placements: stand-in placement failed on purpose');
  });

  it('quotes the last placement failure when no placement can start', async () => {
    const { pool, scheduler } = makePool(1, { retryBackoffMs: 10_000 });
    scheduler.failNext = 100;
    await expect(pool.acquire('x', { timeoutMs: 100 })).rejects.toThrowError(/last placement failure: stand-in placement failed on purpose/);
    expect(pool.stats().failedStarts).toBe(1);
  });

  it('scales up while acquires wait, and back down to minPlacements after the cooldown', async () => {
    const { pool, scheduler } = makePool(2, { minPlacements: 1, maxPlacements: 3, scaleDownCooldownMs: 100 });
    const slots = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.acquire(`t${i}`)));
    expect(scheduler.placed).toHaveLength(3);
    expect(pool.stats()).toMatchObject({ placements: 3, slots: 6, busy: 5, free: 1 });
    await Promise.all(slots.map((s) => s.release()));
    await until(() => pool.stats().placements === 1, 'scaled down to 1');
    expect(pool.stats()).toMatchObject({ placements: 1, scaledDown: 2 });
    expect(scheduler.placed.filter((p) => p.stopped)).toHaveLength(2);
    // The survivor still serves.
    const slot = await pool.acquire('after');
    expect((await slot.bash('x')).success).toBe(true);
  });

  it('withdraws a placement that dies: the in-flight call errors, a replacement serves the next acquire', async () => {
    const { pool, scheduler } = makePool(2, { minPlacements: 1, maxPlacements: 1 });
    const slot = await pool.acquire('victim');
    const inFlight = slot.bash('hang');
    await new Promise((r) => setTimeout(r, 10));
    scheduler.placed[0]!.kill();
    const error = await inFlight.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlacementLostError);
    expect((error as Error).message).toBe('Placement stand-in-0 was lost (exited: killed by SIGKILL); its slots were withdrawn');
    await expect(slot.bash('again')).rejects.toBeInstanceOf(PlacementLostError);
    await slot.release(); // a no-op for a withdrawn slot

    const next = await pool.acquire('next', { timeoutMs: 2_000 });
    expect(next.placementId).toBe('stand-in-1');
    expect((await next.bash('ok')).output).toBe(`stand-in-1/${next.slotId}: ok`);
    expect(pool.stats()).toMatchObject({ placements: 1, lost: 1, slots: 2 });
  });

  it('withdraws and replaces a placement that fails its health checks', async () => {
    const { pool, scheduler } = makePool(1, { minPlacements: 1, healthIntervalMs: 20, healthFailureThreshold: 2 });
    await pool.start();
    scheduler.placed[0]!.healthy = false;
    await until(() => pool.stats().lost === 1 && pool.stats().placements === 1, 'replaced after failed health checks');
    expect(scheduler.placed[0]!.stopped).toBe(true);
    expect(pool.placements[0]!.id).toBe('stand-in-1');
  });

  it('quarantines a slot whose reset fails instead of handing a dirty workspace on', async () => {
    const { pool, connections } = makePool(2);
    const slot = await pool.acquire('a');
    connections.get('stand-in-0')!.failResets = true;
    await slot.release();
    expect(pool.stats()).toMatchObject({ quarantined: 1, free: 1, busy: 0 });
    const other = await pool.acquire('b');
    expect(other.slotId).not.toBe(slot.slotId);
  });

  it('names quarantined slots when an acquire times out for want of a clean one', async () => {
    const { pool, connections } = makePool(1, { maxPlacements: 1 });
    const slot = await pool.acquire('a');
    connections.get('stand-in-0')!.failResets = true;
    await slot.release();
    const error = await pool.acquire('b', { timeoutMs: 50 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcquireTimeoutError);
    expect((error as Error).message).toBe(
      'Timed out after 50ms acquiring a slot for trajectory b: 1 slots in 1 placements (at maxPlacements 1), 0 busy, 0 free, 1 quarantined (their reset failed); 0 placements starting, 1 acquires waiting',
    );
  });

  it('aborts a waiting acquire through its signal', async () => {
    const { pool } = makePool(1, { maxPlacements: 1 });
    await pool.acquire('a');
    const controller = new AbortController();
    const waiting = pool.acquire('b', { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_ABORTED'));
  });

  it('close() fails waiting acquires and in-flight calls and stops every placement', async () => {
    const { pool, scheduler, connections } = makePool(1, { maxPlacements: 1 });
    const slot = await pool.acquire('a');
    const inFlight = slot.bash('hang');
    const waiting = pool.acquire('b');
    await pool.close();
    await expect(waiting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_POOL_CLOSED'));
    await expect(inFlight).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_POOL_CLOSED'));
    await expect(pool.acquire('c')).rejects.toThrowError('acquire: the slot pool is closed');
    expect(scheduler.placed.every((p) => p.stopped)).toBe(true);
    expect([...connections.values()].every((c) => c.closed)).toBe(true);
  });

  it('rejects impossible sizes with the option named', () => {
    expect(() => makePool(1, { minPlacements: 3, maxPlacements: 2 })).toThrowError(
      'Expected the `maxPlacements` option to be an integer >= max(1, minPlacements), got `2`',
    );
  });
});
