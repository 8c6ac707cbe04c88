import { request } from 'undici';
import { tail } from '../common/exec.js';
import { logger } from '../common/logger.js';
import { AbortedError, SandboxError, WaitTimeoutError } from '../errors.js';
import type { Placement, PlacementExit } from './scheduler.js';

const log = logger('wait');

/** What `waitForHealthy` needs of a placement: any scheduler's placement fits. */
export type HealthWaitTarget = Pick<Placement, 'id' | 'url' | 'exited' | 'logs'>;

/**
 * Resolves once the sandbox answers GET /health OK; rejects with a `WaitTimeoutError` after
 * `timeoutMs` or an `AbortedError` when `signal` aborts. Usually `client.waitUntilHealthy`.
 */
export type HealthProbe = (options: { signal: AbortSignal; timeoutMs: number }) => Promise<void>;

/** The sandbox ended before it became healthy. Carries the exit and the stderr tail. */
export class PlacementExitedError extends SandboxError {
  constructor(
    readonly placementId: string,
    readonly exit: PlacementExit,
    readonly stderrTail: string,
    what = 'became healthy',
  ) {
    super(
      'HPCSB_PLACEMENT_FAILED',
      `Sandbox ${placementId} ended before it ${what}: ${exit.reason}` +
        (stderrTail ? `\nlast lines of stderr:\n${stderrTail}` : '\n(stderr was empty)'),
    );
  }
}

export interface WaitForHealthyOptions {
  signal?: AbortSignal;
  /** @default 120_000 (Atropos waits 120 s for healthy allocations) */
  timeoutMs?: number;
  /** How the health is probed. @default GET `${url}/health` every 100 ms (`pollHealth`) */
  probe?: HealthProbe;
  /** Lines of stderr quoted when the sandbox exits first or the wait times out. @default 20 */
  tailLines?: number;
}

/**
 * Waits until `target` is healthy, racing the probe against `target.exited` so a sandbox that dies
 * fails the wait at once (with its last stderr lines) instead of after the whole timeout. Generic
 * over Placement: every scheduler's `waitUntilHealthy()` delegates here.
 */
export async function waitForHealthy(target: HealthWaitTarget, options: WaitForHealthyOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const tailLines = options.tailLines ?? 20;
  const probe = options.probe ?? ((o) => pollHealth(target.url, o));
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const stderrTail = async () => {
    try {
      return tail((await target.logs({ tailLines })).stderr, tailLines);
    } catch {
      return '';
    }
  };
  const exitedFirst = target.exited.then((exit) => ({ exit }));
  try {
    const probing = probe({ signal, timeoutMs }).then(() => undefined);
    // When the exit wins, the probe is aborted below and its rejection is of no interest.
    probing.catch(() => undefined);
    const outcome = await Promise.race([probing, exitedFirst]);
    if (outcome) throw new PlacementExitedError(target.id, outcome.exit, await stderrTail());
    log('[%s] healthy at %s', target.id, target.url);
  } catch (error) {
    if (error instanceof WaitTimeoutError) {
      const evidence = await stderrTail();
      if (!evidence) throw error;
      throw new WaitTimeoutError(error.target, error.timeoutMs, `${error.lastObservation ?? 'no answer'}; stderr:\n${evidence}`, {
        cause: error,
      });
    }
    throw error;
  } finally {
    stop.abort();
  }
}

/**
 * Polls GET `${url}/health` until it answers 200 with `status: "ok"`-like JSON (any 200 counts).
 * Each probe has its own short timeout; the timeout error quotes the last observation.
 */
export async function pollHealth(
  url: string,
  options: { signal?: AbortSignal; timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  const target = `${url}/health`;
  let last: string | undefined;
  let attempt = 0;
  for (;;) {
    if (options.signal?.aborted) throw new AbortedError(`Waiting for ${target}`, { cause: options.signal.reason });
    attempt++;
    try {
      const probeSignal = AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now())));
      const response = await request(target, {
        signal: options.signal ? AbortSignal.any([options.signal, probeSignal]) : probeSignal,
      });
      const body = await response.body.text();
      if (response.statusCode === 200) return;
      last = `${response.statusCode} ${body.slice(0, 200)}`;
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError(`Waiting for ${target}`, { cause: options.signal.reason });
      last = (error as Error).message;
    }
    if (Date.now() + intervalMs > deadline) {
      throw new WaitTimeoutError(`${target} to answer 200`, timeoutMs, `${last}, attempt ${attempt}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
