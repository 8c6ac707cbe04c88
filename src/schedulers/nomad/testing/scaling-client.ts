import { z } from 'zod';
import { NomadEvaluationSchema, NomadRegisterResponseSchema, type NomadEvaluation, type NomadRegisterResponse } from '../api-types.js';
import { blockingQuery, type BlockingOptions, type Indexed, NomadClient } from '../client.js';

/** `GET /v1/job/:id/scale`: desired/placed/running/healthy per group. */
const NomadJobScaleStatusSchema = z.looseObject({
  JobID: z.string(),
  JobStopped: z.boolean().optional(),
  TaskGroups: z
    .record(
      z.string(),
      z.looseObject({
        Desired: z.number().optional(),
        Placed: z.number().optional(),
        Running: z.number().optional(),
        Healthy: z.number().optional(),
        Unhealthy: z.number().optional(),
      }),
    )
    .nullish(),
});
export type NomadJobScaleStatus = z.infer<typeof NomadJobScaleStatusSchema>;

/**
 * A NomadClient that can also scale a job's group and list a job's evaluations (what a scale
 * costs). Test-only: place() registers a job per sandbox and never scales a group (issue 11,
 * measured in scale-decision.integration.test.ts), so these endpoints are not in the production
 * client. They go through its plumbing (token, namespace, TLS, NomadApiError), so a refused scale
 * reads as any other refused call.
 */
export class ScalingNomadClient extends NomadClient {
  /** `GET /v1/job/:id/evaluations` (blocking). */
  async jobEvaluations(jobId: string, options: BlockingOptions = {}): Promise<Indexed<NomadEvaluation[]>> {
    return this.call('GET', `/v1/job/${encodeURIComponent(jobId)}/evaluations`, z.array(NomadEvaluationSchema), {
      query: blockingQuery(options),
      signal: options.signal,
    });
  }

  /** `GET /v1/job/:id/scale` (blocking). */
  async jobScale(jobId: string, options: BlockingOptions = {}): Promise<Indexed<NomadJobScaleStatus>> {
    return this.call('GET', `/v1/job/${encodeURIComponent(jobId)}/scale`, NomadJobScaleStatusSchema, {
      query: blockingQuery(options),
      signal: options.signal,
    });
  }

  /**
   * `POST /v1/job/:id/scale`. Nomad refuses with 400 `job scaling blocked due to active deployment`
   * while a deployment runs (the caller tries again once the deployment ends).
   */
  async scaleJob(
    jobId: string,
    group: string,
    count: number,
    options: { message?: string; signal?: AbortSignal } = {},
  ): Promise<NomadRegisterResponse> {
    const body = { Count: count, Target: { Group: group }, Message: options.message ?? `hpc-sandbox: scale ${group} to ${count}` };
    return (await this.call('POST', `/v1/job/${encodeURIComponent(jobId)}/scale`, NomadRegisterResponseSchema, { body, signal: options.signal })).value;
  }
}
