import { logger } from '../../common/logger.js';
import { AbortedError, WaitTimeoutError } from '../../errors.js';
import type { NomadClient } from './client.js';
import { NomadApiError } from './errors.js';
import type { NomadRegisterResponse } from './api-types.js';

const log = logger('scheduler:nomad');

/** Nomad's 400 body while a deployment of the job runs (exact text). */
export const SCALING_BLOCKED_MESSAGE = 'job scaling blocked due to active deployment';

export interface ScaleGroupOptions {
  message?: string;
  /** Longest wait for a running deployment to end. @default 120_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Sets the count of `group` in `jobId` (the slot pool grows and shrinks its Nomad job this way).
 * When Nomad answers `job scaling blocked due to active deployment`, waits (blocking queries on the
 * job's scale status, never a sleep) until the job's allocations change, and tries again.
 * The jobs this project writes use `MinHealthyTime: 0`, so that window is short.
 */
export async function scaleGroup(
  client: NomadClient,
  jobId: string,
  group: string,
  count: number,
  options: ScaleGroupOptions = {},
): Promise<NomadRegisterResponse> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let index: number | undefined;
  let attempts = 0;
  let blockedBy = '';
  for (;;) {
    attempts++;
    try {
      return await client.scaleJob(jobId, group, count, { message: options.message, signal: options.signal });
    } catch (error) {
      if (!(error instanceof NomadApiError && error.body.includes(SCALING_BLOCKED_MESSAGE))) throw error;
      if (options.signal?.aborted) throw new AbortedError(`Scaling ${jobId}/${group}`, { cause: error });
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) {
        throw new WaitTimeoutError(`the deployment of Nomad job ${jobId} to end before scaling ${group} to ${count}`, timeoutMs, `${SCALING_BLOCKED_MESSAGE}, attempt ${attempts}` + (blockedBy ? `, ${blockedBy}` : ''), {
          cause: error,
        });
      }
      // Nomad's "active" covers running, pending, paused, blocked... (anything not terminal): wait
      // for the job's scale status to move instead of asking again at once, whatever the status.
      const deployment = await client.latestDeployment(jobId, { signal: options.signal });
      blockedBy = deployment ? `deployment ${deployment.ID.slice(0, 8)} ${deployment.Status}` : 'no deployment visible yet';
      log('[%s] scale to %d blocked by an active deployment (%s); waiting', jobId, count, blockedBy);
      const waitSeconds = Math.max(1, Math.min(30, Math.ceil(remainingMs / 1000)));
      const scale = await client.jobScale(jobId, { index: index ?? 1, waitSeconds, signal: options.signal });
      index = Math.max(scale.index, index ?? 1);
    }
  }
}
