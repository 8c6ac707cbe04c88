import { SandboxClient } from '../client/sandbox-client.js';
import { tail } from '../common/exec.js';
import { logger } from '../common/logger.js';
import { SandboxError, WaitTimeoutError } from '../errors.js';
import type { Placement, PlacementExit } from './scheduler.js';

const log = logger('wait');

/** What `waitForHealthy` needs of a placement: any scheduler's placement fits. */
export type HealthWaitTarget = Pick<Placement, 'id' | 'url' | 'exited' | 'logs'> & { readonly token?: string };

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
  /** How the health is probed. @default `sandboxClientProbe(target)`: SandboxClient.waitUntilHealthy */
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
  const probe = options.probe ?? sandboxClientProbe(target);
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

/** The default probe: `SandboxClient.waitUntilHealthy` (adaptive polling of GET /health), its pool closed after. */
export function sandboxClientProbe(target: Pick<Placement, 'url' | 'token'>): HealthProbe {
  return async ({ signal, timeoutMs }) => {
    const client = new SandboxClient(target.url, target.token === undefined ? {} : { token: target.token });
    try {
      await client.waitUntilHealthy({ signal, timeoutMs });
    } finally {
      await client.close();
    }
  };
}
