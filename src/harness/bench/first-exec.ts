import type { Placement } from '../../schedulers/scheduler.js';
import type { HarnessComponents } from '../components.js';
import type { FirstExec } from './startup-sample.js';

/** The command timed as "first exec", as ComputeSDK's `runCommand('echo benchmark')`. */
export const FIRST_EXEC_COMMAND = 'echo benchmark';

/**
 * First exec through the harness's sandbox API: `echo benchmark` in slot 0 must succeed, exit 0
 * and print `benchmark`; anything else throws with what the server answered. The client is
 * closed after each attempt, so no connection pool outlives the placement.
 */
export function firstExecVia(client: HarnessComponents['client']): FirstExec {
  return async (placement: Placement, signal) => {
    const api = client(placement);
    try {
      const outcome = await api.bash(0, FIRST_EXEC_COMMAND, { signal, timeoutSec: 30 });
      if (!outcome.success || outcome.exitCode !== 0 || !outcome.stdout.includes('benchmark')) {
        throw new Error(
          `${FIRST_EXEC_COMMAND} in slot_0 of ${placement.url} did not succeed: success=${outcome.success} exit=${outcome.exitCode} ` +
            `stdout=${JSON.stringify(outcome.stdout.slice(0, 200))} stderr=${JSON.stringify(outcome.stderr.slice(0, 200))}`,
        );
      }
    } finally {
      await api.close?.();
    }
  };
}
