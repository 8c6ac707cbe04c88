import { SlotPool } from '../../pool/index.js';
import type { StartupSample } from '../results.js';
import type { LegTarget, WarmSlots } from './benchmark-leg.js';
import { FIRST_EXEC_COMMAND } from './first-exec.js';
import { describeError, preciseNow } from './startup-sample.js';

/**
 * Warm starts on a running SlotPool of one placement (the leg's spec, so `spec.slots` slots):
 * each sample times `acquire()` -> first successful `echo benchmark`; the release (with its
 * workspace reset) happens after the timed span, as a trainer releases a slot after a trajectory.
 * This is the figure to set beside cold start: slot multiplexing is a warm pool.
 */
export async function openWarmSlots(target: LegTarget, signal: AbortSignal | undefined): Promise<WarmSlots> {
  const pool = new SlotPool({
    scheduler: target.scheduler,
    request: { driver: target.driver, spec: target.spec, ports: target.ports, name: 'bench-warm', signal },
    minPlacements: 1,
    maxPlacements: 1,
    healthyTimeoutMs: target.healthTimeoutMs,
    acquireTimeoutMs: target.healthTimeoutMs,
  });
  try {
    await pool.start();
  } catch (error) {
    await pool.close();
    throw error;
  }
  return {
    async sample(sampleSignal): Promise<StartupSample> {
      const origin = preciseNow();
      try {
        const slot = await pool.acquire('bench-warm', { signal: sampleSignal });
        try {
          const answer = await slot.bash(FIRST_EXEC_COMMAND, { signal: sampleSignal });
          const firstExecMs = preciseNow() - origin;
          if (!answer.success || !answer.output.includes('benchmark')) {
            return { ok: false, error: `${FIRST_EXEC_COMMAND} in ${slot.name} did not succeed: ${answer.error || answer.output}` };
          }
          return { ok: true, firstExecMs };
        } finally {
          await slot.release();
        }
      } catch (error) {
        if (sampleSignal?.aborted) throw error;
        return { ok: false, error: describeError(error) };
      }
    },
    close: () => pool.close(),
  };
}
