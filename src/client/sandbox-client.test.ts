import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AbortedError, WaitTimeoutError } from '../errors.js';
import { startSandboxServer } from '../server/sandbox-server.js';
import { SandboxClient } from './sandbox-client.js';
import { SandboxHttpError } from './sandbox-http-error.js';
import { freePort } from '../common/free-port.js';

const ORIGIN = 'http://sandbox.test:8080';
const health = { status: 'ok', slots: 2, available: 2, executing: 0, data_dir: '/data', bwrap_available: true };

describe('SandboxClient (MockAgent)', () => {
  let agent: MockAgent;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });
  afterEach(async () => {
    agent.assertNoPendingInterceptors();
    await agent.close();
  });

  it('sends the bearer token and JSON, under a base path', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/prefix/execute', method: 'POST', headers: { authorization: 'Bearer tok', 'content-type': 'application/json' }, body: JSON.stringify({ slot_id: 'slot_0', tool: 'bash', args: { command: 'ls', allow_network: false }, timeout: 5 }) })
      .reply(200, { success: true, output: 'a', error: '', execution_id: null, metadata: { exit_code: 0 } });
    const client = new SandboxClient(`${ORIGIN}/prefix/`, { token: 'tok', dispatcher: agent });
    expect(await client.bash('slot_0', 'ls', { timeout: 5, allowNetwork: false })).toMatchObject({ success: true, output: 'a', metadata: { exit_code: 0 } });
    await client.close();
  });

  it('sends bash_stateful and tmux calls with the reference field names', async () => {
    const answer = { success: true, output: 'ok', error: '', execution_id: null, metadata: { stateful: true } };
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/execute', method: 'POST', body: JSON.stringify({ slot_id: 'slot_1', tool: 'bash_stateful', args: { command: 'cd x', allow_network: false, require_stateful_sandbox: true }, timeout: 7, execution_id: 'e1' }) })
      .reply(200, answer);
    pool
      .intercept({ path: '/execute', method: 'POST', body: JSON.stringify({ slot_id: 'slot_1', tool: 'tmux', args: { action: 'send_keys', keys: ['ls', 'Enter'], block: true } }) })
      .reply(200, answer);
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    expect(await client.bashStateful('slot_1', 'cd x', { allowNetwork: false, requireStatefulSandbox: true, timeout: 7, executionId: 'e1' })).toMatchObject({ success: true });
    expect(await client.tmux('slot_1', { action: 'send_keys', keys: ['ls', 'Enter'], block: true })).toMatchObject({ output: 'ok' });
    await client.close();
  });

  it('turns a non-2xx answer into SandboxHttpError with method, path, status and body', async () => {
    agent.get(ORIGIN).intercept({ path: '/reset', method: 'POST' }).reply(404, { success: false, error: 'Unknown slot: slot_9', error_code: 'unknown_slot' });
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    const error = await client.reset('slot_9').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SandboxHttpError);
    expect(error).toMatchObject({ code: 'HPCSB_SANDBOX_HTTP', method: 'POST', path: '/reset', statusCode: 404, body: { error_code: 'unknown_slot' } });
    expect((error as Error).message).toBe(`POST ${ORIGIN}/reset answered 404: Unknown slot: slot_9`);
  });

  it('refuses an answer of the wrong shape', async () => {
    agent.get(ORIGIN).intercept({ path: '/health', method: 'GET' }).reply(200, { hello: 'world' });
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    await expect(client.health()).rejects.toThrowError(/answered 200 with an unexpected body/);
  });

  it('throws when read_file fails on a server that answers 200 (Atropos style)', async () => {
    agent.get(ORIGIN).intercept({ path: '/execute', method: 'POST' }).reply(200, { success: false, output: '', error: 'File not found: x', execution_id: null, metadata: {} });
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    await expect(client.readFile('slot_0', 'x')).rejects.toThrowError(`read_file x in slot_0 failed on ${ORIGIN}: File not found: x`);
  });

  it('checks that a batch answers one result per request', async () => {
    agent.get(ORIGIN).intercept({ path: '/batch', method: 'POST' }).reply(200, [{ success: true, output: '', error: '', execution_id: null, metadata: {} }]);
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    const reqs = [0, 1].map((i) => ({ slot_id: `slot_${i}`, tool: 'bash', args: { command: 'true' } }));
    await expect(client.batch(reqs)).rejects.toThrowError('answered 1 results for 2 requests');
  });

  it('keeps polling while /health answers 503 and reports it on timeout', async () => {
    agent.get(ORIGIN).intercept({ path: '/health', method: 'GET' }).reply(503, { success: false, error: 'booting' }).persist();
    const client = new SandboxClient(ORIGIN, { dispatcher: agent });
    const error = await client.waitUntilHealthy({ timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).lastObservation).toMatch(/^HTTP 503: booting, attempt \d+$/);
    expect(Number(/attempt (\d+)/.exec((error as Error).message)![1])).toBeGreaterThan(5);
  });
});

describe('SandboxClient.waitUntilHealthy (real sockets)', () => {
  it('treats connection refused as "not yet" and times out with it as evidence', async () => {
    const port = await freePort();
    await using client = new SandboxClient(`http://127.0.0.1:${port}`);
    const error = await client.waitUntilHealthy({ timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(new RegExp(`^Timed out after 150ms waiting for http://127.0.0.1:${port}/health \\(last: .*ECONNREFUSED.*attempt \\d+\\)$`));
  });

  it('returns the health of a server that starts while it polls', async () => {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-wait-'));
    await using client = new SandboxClient(`http://127.0.0.1:${port}`);
    try {
      const waiting = client.waitUntilHealthy({ timeoutMs: 10_000 });
      await new Promise((r) => setTimeout(r, 100));
      const server = await startSandboxServer({ port, host: '127.0.0.1', slots: 2, dataDir: dir, isolation: 'off' });
      try {
        expect(await waiting).toMatchObject({ status: 'ok', slots: 2, port });
      } finally {
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stops when its signal aborts', async () => {
    const port = await freePort();
    await using client = new SandboxClient(`http://127.0.0.1:${port}`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('test over')), 50);
    await expect(client.waitUntilHealthy({ timeoutMs: 10_000, signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
  });
});
