import { logger } from '../../common/logger.js';
import type { Driver, SandboxSpec } from '../../drivers/driver.js';
import type { Placement, PortRequest, Scheduler } from '../../schedulers/scheduler.js';
import type { StartupSample } from '../results.js';

const log = logger('bench:startup');

/** Runs one command in slot 0 of a placement; resolves when it succeeded, throws otherwise. */
export type FirstExec = (placement: Placement, signal: AbortSignal) => Promise<void>;

export interface StartupSampleOptions {
  scheduler: Scheduler;
  driver: Driver;
  spec: SandboxSpec;
  ports: PortRequest;
  firstExec: FirstExec;
  /** Budget for one start, submit to first successful exec. @default 120_000 (Atropos' healthy-allocation wait) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Clock in epoch ms with sub-ms precision; a seam for tests. */
  now?: () => number;
}

/** Wall clock with sub-millisecond precision, the same base as `PlacementTimestamps`. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

/** Pause between failed first-exec attempts: short, because the server already said it is healthy. */
const EXEC_RETRY_MS = 50;

/**
 * One cold start, timed as ComputeSDK times time-to-interactive: from the call to
 * `scheduler.place()` to the first successful exec, with the placed and `/health` OK phases read
 * from the placement's timestamps. The placement is always stopped afterwards, outside the timed
 * span. A failure never throws: it becomes `{ ok: false, error }`, so one bad start does not
 * hide the success rate of the rest. Only an abort of `signal` rethrows.
 */
export async function sampleStartup(options: StartupSampleOptions): Promise<StartupSample> {
  const now = options.now ?? preciseNow;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
  const origin = now();
  let placement: Placement | undefined;
  const sample: StartupSample = { ok: false };
  try {
    placement = await options.scheduler.place({
      driver: options.driver,
      spec: options.spec,
      ports: options.ports,
      name: 'bench',
      signal,
    });
    sample.placedMs = sinceOrigin(placement.timestamps.placed, origin);
    await placement.waitUntilHealthy({ signal, timeoutMs });
    sample.healthyMs = sinceOrigin(placement.timestamps.healthy ?? now(), origin);
    log('[%s] healthy after %d ms', placement.id, sample.healthyMs);
    await execUntilSuccess(placement, options.firstExec, signal);
    sample.firstExecMs = now() - origin;
    sample.ok = true;
    log('[%s] first exec after %d ms', placement.id, sample.firstExecMs);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    sample.error = deadline.aborted
      ? `no successful exec within ${timeoutMs} ms (${describeError(error)})`
      : describeError(error);
    log('start failed: %s', sample.error);
  } finally {
    await placement?.stop().catch((error: unknown) => log('stop failed: %s', describeError(error)));
  }
  return sample;
}

async function execUntilSuccess(placement: Placement, firstExec: FirstExec, signal: AbortSignal): Promise<void> {
  for (;;) {
    try {
      await firstExec(placement, signal);
      return;
    } catch (error) {
      if (signal.aborted) throw error;
      log('exec on %s not yet successful: %s', placement.url, describeError(error));
      await new Promise((resolve) => setTimeout(resolve, EXEC_RETRY_MS));
    }
  }
}

function sinceOrigin(instant: number | undefined, origin: number): number | undefined {
  return instant === undefined ? undefined : Math.max(0, instant - origin);
}

/** One line: the message and, for project errors, the code. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && code.startsWith('HPCSB_') ? `${error.message} [${code}]` : error.message;
  }
  return String(error);
}
