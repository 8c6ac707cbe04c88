import { describe, expect, it } from 'vitest';
import type { Driver, SandboxSpec } from '../../drivers/driver.js';
import type { Placement, PlacementRequest, Scheduler } from '../../schedulers/scheduler.js';
import { sampleStartup } from './startup-sample.js';

const spec: SandboxSpec = { slots: 1, envAllowlist: [], env: {}, isolation: 'off' };
const driver = { name: 'process' } as Driver;

/** A scheduler whose placements walk a fake clock: placed at +10, healthy at +30. */
function fakeScheduler(clock: { t: number }, behaviour: { failPlace?: boolean; failHealth?: boolean } = {}) {
  const stopped: string[] = [];
  const scheduler = {
    name: 'local',
    async place(_request: PlacementRequest): Promise<Placement> {
      if (behaviour.failPlace) throw new Error('no free port on 127.0.0.1');
      const timestamps: Placement['timestamps'] = { submitted: clock.t, placed: clock.t + 10 };
      clock.t += 10;
      const placement = {
        id: `p${stopped.length}`,
        url: 'http://127.0.0.1:1',
        timestamps,
        async waitUntilHealthy() {
          if (behaviour.failHealth) throw new Error('sandbox exited with code 1');
          clock.t += 20;
          timestamps.healthy = clock.t;
        },
        async stop() {
          stopped.push(placement.id);
        },
      };
      return placement as unknown as Placement;
    },
  } as unknown as Scheduler;
  return { scheduler, stopped };
}

describe('sampleStartup', () => {
  it('times placed, healthy and first exec from the call to place(), and stops the placement', async () => {
    const clock = { t: 1_000 };
    const { scheduler, stopped } = fakeScheduler(clock);
    let attempts = 0;
    const sample = await sampleStartup({
      scheduler,
      driver,
      spec,
      ports: { mode: 'dynamic' },
      now: () => clock.t,
      firstExec: async () => {
        attempts++;
        clock.t += 5;
        if (attempts < 2) throw new Error('slot_0 busy');
      },
    });
    expect(sample).toEqual({ ok: true, placedMs: 10, healthyMs: 30, firstExecMs: 40 });
    expect(attempts).toBe(2);
    expect(stopped).toEqual(['p0']);
  });

  it('turns a failed start into a failed sample with the reason, and still stops it', async () => {
    const clock = { t: 0 };
    const { scheduler, stopped } = fakeScheduler(clock, { failHealth: true });
    const sample = await sampleStartup({ scheduler, driver, spec, ports: { mode: 'dynamic' }, now: () => clock.t, firstExec: async () => {} });
    expect(sample).toEqual({ ok: false, placedMs: 10, error: 'sandbox exited with code 1' });
    expect(stopped).toEqual(['p0']);
  });

  it('reports a place() failure', async () => {
    const { scheduler } = fakeScheduler({ t: 0 }, { failPlace: true });
    const sample = await sampleStartup({ scheduler, driver, spec, ports: { mode: 'dynamic' }, firstExec: async () => {} });
    expect(sample).toEqual({ ok: false, error: 'no free port on 127.0.0.1' });
  });

  it('gives up after timeoutMs when exec never succeeds', async () => {
    const { scheduler, stopped } = fakeScheduler({ t: 0 });
    const sample = await sampleStartup({
      scheduler,
      driver,
      spec,
      ports: { mode: 'dynamic' },
      timeoutMs: 200,
      firstExec: async (_p, signal) => {
        signal.throwIfAborted();
        throw new Error('bash: not found');
      },
    });
    expect(sample.ok).toBe(false);
    expect(sample.error).toMatch(/^no successful exec within 200 ms/);
    expect(stopped).toEqual(['p0']);
  });

  it('rethrows when the caller aborts', async () => {
    const { scheduler } = fakeScheduler({ t: 0 });
    const controller = new AbortController();
    controller.abort();
    await expect(
      sampleStartup({ scheduler, driver, spec, ports: { mode: 'dynamic' }, signal: controller.signal, firstExec: async (_p, s) => s.throwIfAborted() }),
    ).rejects.toBeDefined();
  });
});
