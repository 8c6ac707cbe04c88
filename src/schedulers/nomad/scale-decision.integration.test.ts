import { afterAll, beforeAll, expect, it, describe } from 'vitest';
import { startSiteDouble, type SiteDouble } from '../../../fixtures/nomad-double/site-double.js';
import { NomadApiError } from './errors.js';
import { ScalingNomadClient } from './testing/scaling-client.js';

// Item 5 of issue 11, measured through the Nomad TEST DOUBLE: 16 sandboxes as 16 jobs vs one
// job's group count (raising it one at a time, as a pool grows, and all at once). Placement in the
// double is immediate, so the ratios say how much API work each shape costs, not Nomad's speed.
// Decision (issue 11): pools keep a job per sandbox and `scaleGroup` was removed: growing one job
// by one per acquire costs as many evaluations as a job each and serializes on "job scaling
// blocked due to active deployment"; only sizing a pool at once saves evaluations (1/16), and one
// job's allocations cannot be stopped one by one as slots are recycled.
const SANDBOXES = 16;

describe('16 sandboxes on Nomad: a job each vs one job\'s group count (test double)', () => {
  let site: SiteDouble;
  let client: ScalingNomadClient;
  beforeAll(async () => {
    site = await startSiteDouble();
    client = new ScalingNomadClient({ address: site.address, token: site.managementToken, namespace: 'research', tls: { caFile: site.caFile, certFile: site.certFile, keyFile: site.keyFile } });
  }, 60_000);
  afterAll(async () => {
    await client?.close();
    await site?.stop();
  });

  const job = (id: string, count: number) => ({
    ID: id,
    Datacenters: ['hpc-east'],
    Update: { HealthCheck: 'task_states', MinHealthyTime: 0 },
    TaskGroups: [{ Name: 'sandbox', Count: count, Update: { HealthCheck: 'task_states', MinHealthyTime: 0 }, Tasks: [{ Name: 't', Driver: 'raw_exec', Config: { command: '/bin/sleep', args: ['120'] } }] }],
  });
  async function running(ids: string[], want: number): Promise<void> {
    for (;;) {
      const allocs = (await Promise.all(ids.map((id) => client.jobAllocations(id)))).flatMap((a) => a.value);
      if (allocs.filter((a) => a.ClientStatus === 'running').length >= want) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  async function evaluations(ids: string[]): Promise<number> {
    return (await Promise.all(ids.map((id) => client.jobEvaluations(id)))).reduce((sum, e) => sum + e.value.length, 0);
  }

  it('measures placements per second and evaluations per sandbox', async () => {
    const results: Record<string, { seconds: number; evalsPerSandbox: number; calls: number }> = {};

    let start = performance.now();
    const ids = Array.from({ length: SANDBOXES }, (_, i) => `per-sandbox-${i}`);
    await Promise.all(ids.map((id) => client.registerJob(job(id, 1))));
    await running(ids, SANDBOXES);
    results['job per sandbox (16 registers, concurrent)'] = { seconds: (performance.now() - start) / 1000, evalsPerSandbox: (await evaluations(ids)) / SANDBOXES, calls: SANDBOXES };
    await Promise.all(ids.map((id) => client.deregisterJob(id, { purge: true })));

    start = performance.now();
    await client.registerJob(job('pool-steps', 1));
    await running(['pool-steps'], 1);
    for (let count = 2; count <= SANDBOXES; count++) {
      // Nomad refuses to scale while the previous step's deployment runs: try again.
      for (;;) {
        try {
          await client.scaleJob('pool-steps', 'sandbox', count);
          break;
        } catch (error) {
          if (!(error instanceof NomadApiError && error.body.includes('job scaling blocked due to active deployment'))) throw error;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      await running(['pool-steps'], count);
    }
    results['one job, count +1 per sandbox'] = { seconds: (performance.now() - start) / 1000, evalsPerSandbox: (await evaluations(['pool-steps'])) / SANDBOXES, calls: SANDBOXES };
    await client.deregisterJob('pool-steps', { purge: true });

    start = performance.now();
    await client.registerJob(job('pool-once', SANDBOXES));
    await running(['pool-once'], SANDBOXES);
    results['one job, count 16 at once'] = { seconds: (performance.now() - start) / 1000, evalsPerSandbox: (await evaluations(['pool-once'])) / SANDBOXES, calls: 1 };
    await client.deregisterJob('pool-once', { purge: true });

    for (const [shape, r] of Object.entries(results)) {
      console.log(`${shape}: ${(SANDBOXES / r.seconds).toFixed(1)} placements/s, ${r.evalsPerSandbox.toFixed(2)} evaluations/sandbox, ${r.calls} write calls`);
    }
    expect(results['one job, count 16 at once']!.evalsPerSandbox).toBeLessThan(results['job per sandbox (16 registers, concurrent)']!.evalsPerSandbox);
  }, 180_000);
});
