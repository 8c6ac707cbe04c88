import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nomadErrorBody, nomadResponse, RECORDED } from '../../../fixtures/nomad/responses.js';
import { isSandboxError } from '../../errors.js';
import { NomadClient } from './client.js';
import { NomadApiError } from './errors.js';
import { ScalingNomadClient } from './testing/scaling-client.js';

const ADDRESS = 'http://127.0.0.1:4646';

describe('NomadClient', () => {
  let agent: MockAgent;
  // The scaling client adds only the test-only /scale endpoints, which the error-body test reads.
  let nomad: ScalingNomadClient;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    nomad = new ScalingNomadClient({ address: ADDRESS, token: 'secret-id', namespace: 'sandboxes', region: 'eu', dispatcher: agent });
  });
  afterEach(async () => {
    await nomad.close();
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  it('sends the token as X-Nomad-Token and namespace/region on namespaced calls only', async () => {
    const pool = agent.get(ADDRESS);
    pool.intercept({ path: '/v1/status/leader', method: 'GET', headers: { 'x-nomad-token': 'secret-id' } }).reply(200, '"127.0.0.1:4647"');
    pool
      .intercept({ path: `/v1/job/${RECORDED.jobId}/allocations?namespace=sandboxes&region=eu`, method: 'GET', headers: { 'x-nomad-token': 'secret-id' } })
      .reply(200, nomadResponse('job-allocations-running'), { headers: { 'x-nomad-index': '31' } });
    expect(await nomad.leader()).toBe('127.0.0.1:4647');
    const { value, index } = await nomad.jobAllocations(RECORDED.jobId);
    expect(index).toBe(31);
    expect(value[0]).toMatchObject({ ID: RECORDED.allocId, ClientStatus: 'running', DesiredStatus: 'run' });
    expect(value[0]!.TaskStates?.server?.Events?.map((e) => e.Type)).toEqual(['Received', 'Task Setup', 'Started']);
  });

  it('long-polls with index and wait (blocking query) and returns the new X-Nomad-Index', async () => {
    agent
      .get(ADDRESS)
      .intercept({ path: `/v1/allocation/${RECORDED.allocId}?index=31&wait=7s&namespace=sandboxes&region=eu`, method: 'GET' })
      .reply(200, nomadResponse('allocation-complete'), { headers: { 'x-nomad-index': '45' } });
    const { value, index } = await nomad.allocation(RECORDED.allocId, { index: 31, waitSeconds: 7 });
    expect(index).toBe(45);
    expect(value.ClientStatus).toBe('complete');
  });

  it('turns a plain-text error body into NomadApiError with method, path, status and body', async () => {
    const body = nomadErrorBody('GET /v1/job/unknown');
    agent.get(ADDRESS).intercept({ path: '/v1/job/unknown/scale?namespace=sandboxes&region=eu', method: 'GET' }).reply(404, body, { headers: { 'content-type': 'text/plain' } });
    const error = await nomad.jobScale('unknown').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NomadApiError);
    expect(error).toMatchObject({ code: 'HPCSB_NOMAD_API', method: 'GET', path: '/v1/job/unknown/scale', statusCode: 404, status: 404, body: 'job not found\n' });
    expect((error as Error).message).toBe('Nomad API GET http://127.0.0.1:4646/v1/job/unknown/scale failed with HTTP 404: job not found');
  });

  it('keeps the multi-line validation error of a failed register (HTTP 500)', async () => {
    const body = nomadErrorBody('POST /v1/jobs with an invalid job');
    agent.get(ADDRESS).intercept({ path: '/v1/jobs?namespace=sandboxes&region=eu', method: 'POST' }).reply(500, body);
    const error = (await nomad.registerJob({ ID: 'x', TaskGroups: [] }).catch((e: unknown) => e)) as NomadApiError;
    expect(error.statusCode).toBe(500);
    expect(error.body).toContain('* Missing task driver');
    expect(error.message).toContain('failed with HTTP 500: 1 error occurred:');
  });

  it('posts {"Job": ...} to validate and register, and reads the answers', async () => {
    const job = { ID: RECORDED.jobId, TaskGroups: [] };
    const pool = agent.get(ADDRESS);
    pool.intercept({ path: '/v1/validate/job?namespace=sandboxes&region=eu', method: 'POST', body: JSON.stringify({ Job: job }) }).reply(200, nomadResponse('validate-ok'));
    pool.intercept({ path: '/v1/jobs?namespace=sandboxes&region=eu', method: 'POST', body: JSON.stringify({ Job: job }) }).reply(200, nomadResponse('register'));
    pool.intercept({ path: `/v1/job/${RECORDED.jobId}?purge=true&namespace=sandboxes&region=eu`, method: 'DELETE' }).reply(200, nomadResponse('deregister'));
    expect(await nomad.validateJob(job)).toMatchObject({ ValidationErrors: null, Error: '' });
    expect(await nomad.registerJob(job)).toMatchObject({ EvalID: RECORDED.evalId, Warnings: '' });
    expect((await nomad.deregisterJob(RECORDED.jobId, { purge: true })).EvalID).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('reads the stderr tail through the logs endpoint (plain, origin=end), and "" when there is no log yet', async () => {
    const pool = agent.get(ADDRESS);
    pool
      .intercept({ path: `/v1/client/fs/logs/${RECORDED.allocId}?task=server&type=stderr&plain=true&origin=end&offset=4096&namespace=sandboxes&region=eu`, method: 'GET' })
      .reply(200, 'FATAL: cannot bind 0.0.0.0:8080\n', { headers: { 'content-type': 'text/plain' } });
    pool
      .intercept({ path: `/v1/client/fs/logs/${RECORDED.allocId}?task=server&type=stdout&plain=true&origin=end&offset=16384&namespace=sandboxes&region=eu`, method: 'GET' })
      .reply(404, 'file not found');
    expect(await nomad.taskLogs(RECORDED.allocId, 'server', 'stderr', { tailBytes: 4096 })).toBe('FATAL: cannot bind 0.0.0.0:8080\n');
    expect(await nomad.taskLogs(RECORDED.allocId, 'server', 'stdout')).toBe('');
  });

  it('says which field of an answer had an unexpected shape', async () => {
    agent.get(ADDRESS).intercept({ path: `/v1/evaluation/${RECORDED.evalId}?namespace=sandboxes&region=eu`, method: 'GET' }).reply(200, { ID: RECORDED.evalId, Status: 7 });
    const error = await nomad.evaluation(RECORDED.evalId).catch((e: unknown) => e);
    expect(isSandboxError(error, 'HPCSB_NOMAD_API')).toBe(true);
    expect((error as Error).message).toContain(`/v1/evaluation/${RECORDED.evalId} answered an unexpected shape`);
    expect((error as Error).message).toContain('→ at Status');
  });

  it('reports an unreachable agent with its address', async () => {
    const error = await nomad.leader().catch((e: unknown) => e);
    expect(isSandboxError(error, 'HPCSB_NOMAD_API')).toBe(true);
    expect((error as Error).message).toMatch(/^Nomad API GET http:\/\/127\.0\.0\.1:4646\/v1\/status\/leader could not be reached: /);
  });

  it('turns an abort into AbortedError naming the call', async () => {
    const controller = new AbortController();
    agent
      .get(ADDRESS)
      .intercept({ path: `/v1/evaluation/${RECORDED.evalId}?index=27&wait=30s&namespace=sandboxes&region=eu`, method: 'GET' })
      .reply(200, () => {
        controller.abort(new Error('Ctrl-C'));
        return nomadResponse('evaluation-complete');
      })
      .delay(50);
    const waiting = nomad.evaluation(RECORDED.evalId, { index: 27, signal: controller.signal });
    await expect(waiting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_ABORTED'));
    await expect(waiting).rejects.toThrowError(`Nomad API GET http://127.0.0.1:4646/v1/evaluation/${RECORDED.evalId} was aborted`);
  });

  it('refuses calls after close()', async () => {
    await nomad.close();
    await expect(nomad.leader()).rejects.toThrowError('NomadClient for http://127.0.0.1:4646 is closed');
  });
});

describe('NomadClient over a real socket', () => {
  it('serves other calls while more blocking queries hang than a fixed pool would hold (one per placement)', async () => {
    const allocation = JSON.stringify({ ID: 'x', JobID: 'j', ClientStatus: 'running', DesiredStatus: 'run' });
    const hanging: ServerResponse[] = [];
    let released = false;
    const server = createServer((req, res) => {
      if (!req.url?.includes('index=')) res.end('"127.0.0.1:4647"');
      else if (released) res.end(allocation);
      else hanging.push(res);
    });
    const release = () => {
      released = true;
      for (const res of hanging.splice(0)) res.end(allocation);
    };
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new NomadClient({ address });
    try {
      const followers = Array.from({ length: 12 }, (_, i) => client.allocation(`alloc-${i}`, { index: 1, waitSeconds: 30 }));
      // All twelve long polls reach the agent at once, each on its own connection...
      await expect.poll(() => hanging.length, { timeout: 5_000 }).toBe(12);
      // ...and a short call is not queued behind them.
      expect(await client.leader()).toBe('127.0.0.1:4647');
      release();
      expect((await Promise.all(followers)).map(({ value }) => value.ClientStatus)).toEqual(Array(12).fill('running'));
    } finally {
      release();
      await client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('NomadClient TLS settings', () => {
  it('refuses a client certificate without its key, and names a TLS file it cannot read', () => {
    expect(() => new NomadClient({ address: 'https://127.0.0.1:1', tls: { certFile: '/nonexistent/cli.pem' } })).toThrow(
      'Nomad mutual TLS needs both a client certificate and its key; got only the certificate /nonexistent/cli.pem',
    );
    expect(() => new NomadClient({ address: 'https://127.0.0.1:1', tls: { caFile: '/nonexistent/ca.pem' } })).toThrow('Cannot read the Nomad TLS CA file /nonexistent/ca.pem: ENOENT');
  });
});
