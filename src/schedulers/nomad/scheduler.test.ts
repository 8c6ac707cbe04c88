import { MockAgent, type Interceptable } from 'undici';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nomadErrorBody, nomadResponse, RECORDED } from '../../../fixtures/nomad/responses.js';
import type { Driver, SandboxSpec } from '../../drivers/driver.js';
import { isSandboxError } from '../../errors.js';
import { NomadClient } from './client.js';
import { NomadPlacement } from './placement.js';
import { NomadScheduler } from './scheduler.js';

const ADDRESS = 'http://127.0.0.1:4646';
const SPEC: SandboxSpec = { slots: 1, envAllowlist: [], env: {}, isolation: 'off' };
const driver: Driver = {
  name: 'process',
  detect: async () => ({ available: true }),
  plan: async () => ({ kind: 'exec', driver: 'process', argv: ['/usr/bin/node', '/srv/server.mjs', '--port', '{{port}}'], env: { PATH: '/usr/bin' }, processGroup: true }),
};
const jobPath = (suffix = '') => (path: string) => new RegExp(`^/v1/job/it-[0-9a-f]{8}${suffix}`).test(path);

describe('NomadScheduler over recorded Nomad answers', () => {
  let agent: MockAgent;
  let pool: Interceptable;
  let client: NomadClient;
  let nomad: NomadScheduler;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    pool = agent.get(ADDRESS);
    client = new NomadClient({ address: ADDRESS, dispatcher: agent });
    nomad = new NomadScheduler({ client });
  });
  afterEach(async () => {
    await nomad.close();
    await client.close();
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  it('validates, registers, waits on the evaluation and the allocation, and finds host and port', async () => {
    let registered: any;
    pool.intercept({ path: '/v1/validate/job', method: 'POST' }).reply(200, nomadResponse('validate-ok'));
    pool.intercept({ path: '/v1/jobs', method: 'POST' }).reply(200, ({ body }) => {
      registered = JSON.parse(String(body)).Job;
      return nomadResponse('register');
    });
    pool.intercept({ path: `/v1/evaluation/${RECORDED.evalId}`, method: 'GET' }).reply(200, nomadResponse('evaluation-pending'), { headers: { 'x-nomad-index': '25' } });
    pool.intercept({ path: `/v1/evaluation/${RECORDED.evalId}?index=25&wait=30s`, method: 'GET' }).reply(200, nomadResponse('evaluation-complete'), { headers: { 'x-nomad-index': '27' } });
    pool.intercept({ path: jobPath('/allocations$'), method: 'GET' }).reply(200, nomadResponse('job-allocations-pending'), { headers: { 'x-nomad-index': '28' } });
    pool.intercept({ path: `/v1/allocation/${RECORDED.allocId}`, method: 'GET' }).reply(200, nomadResponse('allocation-running'), { headers: { 'x-nomad-index': '31' } });
    // The placement follows its allocation with blocking queries from ModifyIndex 31 on.
    pool.intercept({ path: `/v1/allocation/${RECORDED.allocId}?index=31&wait=10s`, method: 'GET' }).reply(200, nomadResponse('allocation-complete'), { headers: { 'x-nomad-index': '45' } });

    const placement = await nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'it' });
    expect(placement).toMatchObject({ scheduler: 'nomad', driver: 'process', host: '127.0.0.1', port: 24510, url: 'http://127.0.0.1:24510' });
    expect(placement.timestamps.placed).toBeGreaterThanOrEqual(placement.timestamps.submitted);
    expect(registered.TaskGroups[0].Tasks[0].Config.args).toContain('${NOMAD_PORT_http}');
    expect(registered.Meta.hpc_sandbox_session).toMatch(/^[0-9a-f-]{36}$/);
    const exit = await placement.exited;
    expect(exit).toEqual({ exitCode: 130, reason: 'allocation 5f0e6b4c complete: Terminated (exit code 130): Exit Code: 130, Exit Message: "Docker container exited with non-zero exit code: 130"' });
    expect(placement.events.map((e) => e.type)).toEqual(['Received', 'Task Setup', 'Started', 'Killing', 'Terminated', 'Killed']);
    expect(placement.timestamps.started).toBe(1796061601325);

    pool.intercept({ path: jobPath('\\?purge=true$'), method: 'DELETE' }).reply(200, nomadResponse('deregister'));
    await placement.stop();
    await placement.stop(); // idempotent: no second DELETE
  });

  it('stop() tries the purge again after a failed one', async () => {
    const placement = new NomadPlacement({
      client,
      jobId: RECORDED.jobId,
      alloc: nomadResponse('allocation-complete'),
      address: { host: '127.0.0.1', port: 24510 },
      driver: 'process',
      timestamps: { submitted: 0 },
    });
    const purge = { path: `/v1/job/${RECORDED.jobId}?purge=true`, method: 'DELETE' };
    pool.intercept(purge).reply(403, 'Permission denied');
    // A 403 is explained as an ACL refusal (issue 11), with Nomad's own answer as the evidence.
    await expect(placement.stop()).rejects.toThrowError(`Nomad refused no ACL token (set NOMAD_TOKEN or the profile's tokenFile): it is required here (Nomad: HTTP 403 "Permission denied" for DELETE http://127.0.0.1:4646/v1/job/${RECORDED.jobId})`);
    pool.intercept(purge).reply(200, nomadResponse('deregister'));
    await placement.stop();
    await placement.stop(); // done: no third DELETE
  });

  it('purges the job and names the colliding port when the evaluation could not place it', async () => {
    pool.intercept({ path: '/v1/validate/job', method: 'POST' }).reply(200, nomadResponse('validate-ok'));
    pool.intercept({ path: '/v1/jobs', method: 'POST' }).reply(200, nomadResponse('register'));
    pool.intercept({ path: `/v1/evaluation/${RECORDED.evalId}`, method: 'GET' }).reply(200, nomadResponse('evaluation-port-collision'), { headers: { 'x-nomad-index': '27' } });
    let purged = false;
    pool.intercept({ path: jobPath('\\?purge=true$'), method: 'DELETE' }).reply(200, () => {
      purged = true;
      return nomadResponse('deregister');
    });
    const placing = nomad.place({ driver, spec: SPEC, ports: { mode: 'static', port: 8080 }, name: 'it' });
    await expect(placing).rejects.toThrowError(/^Nomad could not run job it-[0-9a-f]{8}: task group "sandbox" was not placed: static port 8080 \(label http\)/);
    await expect(placing).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_PLACEMENT_FAILED'));
    expect(purged).toBe(true);
  });

  it('fails with the task event and the stderr tail when the task cannot start', async () => {
    pool.intercept({ path: '/v1/validate/job', method: 'POST' }).reply(200, nomadResponse('validate-ok'));
    pool.intercept({ path: '/v1/jobs', method: 'POST' }).reply(200, nomadResponse('register'));
    pool.intercept({ path: `/v1/evaluation/${RECORDED.evalId}`, method: 'GET' }).reply(200, nomadResponse('evaluation-complete'), { headers: { 'x-nomad-index': '27' } });
    pool.intercept({ path: jobPath('/allocations$'), method: 'GET' }).reply(200, nomadResponse('job-allocations-failed-validation'), { headers: { 'x-nomad-index': '30' } });
    pool
      .intercept({ path: `/v1/client/fs/logs/${RECORDED.allocId}?task=server&type=stderr&plain=true&origin=end&offset=4096`, method: 'GET' })
      .reply(200, 'line 1\nline 2: launcher gave up\n');
    pool.intercept({ path: jobPath('\\?purge=true$'), method: 'DELETE' }).reply(200, nomadResponse('deregister'));
    const placing = nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'it' });
    await expect(placing).rejects.toThrowError('task server of allocation 5f0e6b4c failed: Failed Validation: failed to parse config:');
    await expect(placing).rejects.toThrowError('last lines of stderr:\nline 1\nline 2: launcher gave up');
  });

  it('purges a job whose register was aborted mid-flight (Nomad may have registered it)', async () => {
    pool.intercept({ path: '/v1/validate/job', method: 'POST' }).reply(200, nomadResponse('validate-ok'));
    const controller = new AbortController();
    pool.intercept({ path: '/v1/jobs', method: 'POST' }).reply(200, () => {
      controller.abort(new Error('operator pressed Ctrl-C'));
      return nomadResponse('register');
    }).delay(50);
    let purged = false;
    pool.intercept({ path: jobPath('\\?purge=true$'), method: 'DELETE' }).reply(200, () => {
      purged = true;
      return nomadResponse('deregister');
    });
    const placing = nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'it', signal: controller.signal });
    await expect(placing).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_ABORTED'));
    expect(purged).toBe(true);
  });

  it("refuses a job Nomad's validator rejects, listing its errors, before registering anything", async () => {
    pool.intercept({ path: '/v1/validate/job', method: 'POST' }).reply(200, nomadResponse('validate-errors'));
    const placing = nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'it' });
    await expect(placing).rejects.toThrowError(/^Nomad rejected job it-[0-9a-f]{8} \(POST \/v1\/validate\/job at http:\/\/127\.0\.0\.1:4646\):\n {2}\* Task group sandbox validation failed/);
    await expect(placing).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
  });

  it('detects a real agent by version, leader and ready nodes with healthy drivers', async () => {
    pool.intercept({ path: '/v1/agent/self', method: 'GET' }).reply(200, nomadResponse('agent-self'));
    pool.intercept({ path: '/v1/status/leader', method: 'GET' }).reply(200, '"127.0.0.1:4647"');
    pool.intercept({ path: '/v1/nodes', method: 'GET' }).reply(200, nomadResponse('nodes-ready'), { headers: { 'x-nomad-index': '11' } });
    expect(await nomad.detect()).toEqual({
      available: true,
      version: 'Nomad v1.9.7',
      details: { address: ADDRESS, leader: '127.0.0.1:4647', nodes: '1', drivers: 'raw_exec' },
    });
  });

  it('says there is no leader yet', async () => {
    pool.intercept({ path: '/v1/agent/self', method: 'GET' }).reply(200, nomadResponse('agent-self'));
    pool.intercept({ path: '/v1/status/leader', method: 'GET' }).reply(200, '""');
    expect(await nomad.detect()).toMatchObject({ available: false, reason: `nomad: ${ADDRESS} has no cluster leader yet` });
  });
});
