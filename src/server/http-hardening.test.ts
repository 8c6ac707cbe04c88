import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxServer, type RunningSandboxServer } from './sandbox-server.js';

// What a hostile client or a hostile web page can send to the HTTP side (isolation off: no bwrap needed).
let root: string;
let server: RunningSandboxServer;

/** Sends `text` on a fresh connection and returns everything the server wrote until it closed. */
async function rawExchange(port: number, text: string): Promise<{ status: number; head: string; body: Record<string, unknown> }> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.write(text);
  await new Promise<void>((resolve, reject) => {
    socket.once('close', () => resolve());
    socket.once('error', reject);
    setTimeout(() => reject(new Error(`no close within 5 s; got: ${Buffer.concat(chunks).toString()}`)), 5_000).unref();
  });
  const answer = Buffer.concat(chunks).toString('utf8');
  const [head, body = ''] = answer.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]), head: head!, body: body ? JSON.parse(body) : {} };
}

function post(path: string, body: string, headers: Record<string, string>): string {
  const lines = [`POST ${path} HTTP/1.1`, ...Object.entries({ connection: 'close', 'content-length': String(Buffer.byteLength(body)), ...headers }).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

const touch = (name: string): string => JSON.stringify({ slot_id: 'slot_0', tool: 'bash', args: { command: `touch ${name}` } });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hpcsb-http-'));
  server = await startSandboxServer({
    port: 0,
    host: '127.0.0.1',
    slots: 1,
    dataDir: join(root, 'data'),
    isolation: 'off',
    limits: { maxBodyBytes: 200_000 },
    http: { headersTimeoutMs: 300, requestTimeoutMs: 3_000 },
    allowedHosts: ['sandbox.internal'],
  });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('HTTP surface of the sandbox server', () => {
  it('closes a connection that sends its headers byte by byte once the header timeout passes (slowloris)', async () => {
    const socket = connect(server.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (c: Buffer) => received.push(c));
    const slow = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => socket.writable && socket.write(slow[i++ % slow.length]!), 20);
    const started = Date.now();
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('close', () => resolve());
        setTimeout(() => reject(new Error('the slow connection was still open after 3 s')), 3_000).unref();
      });
    } finally {
      clearInterval(drip);
    }
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that never sends anything after the header timeout', async () => {
    const socket = connect(server.port, '127.0.0.1');
    socket.resume();
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      socket.once('close', () => resolve());
      setTimeout(() => reject(new Error('the idle connection was still open after 3 s')), 3_000).unref();
    });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses a foreign Origin with 403 and runs nothing, and accepts its own origin', async () => {
    const refused = await rawExchange(server.port, post('/execute', touch('from-evil-page'), { host: `127.0.0.1:${server.port}`, origin: 'http://evil.example', 'content-type': 'application/json' }));
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      success: false,
      error_code: 'foreign_origin',
      error: `Refused: Origin \`http://evil.example\` is not this sandbox server (http://127.0.0.1:${server.port}); browsers may not drive it from other pages`,
    });
    const nullOrigin = await rawExchange(server.port, post('/execute', touch('from-sandboxed-frame'), { host: `127.0.0.1:${server.port}`, origin: 'null', 'content-type': 'application/json' }));
    expect(nullOrigin.status).toBe(403);
    const own = await rawExchange(server.port, post('/execute', touch('from-own-origin'), { host: `127.0.0.1:${server.port}`, origin: `http://127.0.0.1:${server.port}`, 'content-type': 'application/json' }));
    expect(own.status).toBe(200);
    expect(existsSync(join(server.dataDir, 'slot_0', 'from-evil-page'))).toBe(false);
    expect(existsSync(join(server.dataDir, 'slot_0', 'from-sandboxed-frame'))).toBe(false);
    expect(existsSync(join(server.dataDir, 'slot_0', 'from-own-origin'))).toBe(true);
  });

  it('refuses a Host with a DNS name it does not know (DNS rebinding) and accepts IP literals and its names on any port', async () => {
    const rebound = await rawExchange(server.port, post('/execute', touch('rebound'), { host: `attacker.example:${server.port}`, 'content-type': 'application/json' }));
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatchObject({ error_code: 'foreign_host' });
    expect(rebound.body.error).toMatch(/^Refused: Host `attacker\.example:\d+` is not a name of this sandbox server \(accepted: IP addresses, localhost, .*sandbox\.internal; add a name with --allow-host\)$/);
    expect(existsSync(join(server.dataDir, 'slot_0', 'rebound'))).toBe(false);
    // Docker and Nomad map another host port to the server's: the port is never checked.
    for (const host of ['127.0.0.1:1', '10.20.30.40:8080', '[::1]:9', 'localhost:5', 'LOCALHOST', 'sandbox.internal:80']) {
      const get = await rawExchange(server.port, `GET /health HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
      expect(get.status, host).toBe(200);
    }
  });

  it.each([
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['no Content-Type', undefined],
  ])('refuses a POST body sent as %s with 415 and runs nothing', async (_name, type) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${server.port}` };
    if (type) headers['content-type'] = type;
    const answer = await rawExchange(server.port, post('/execute', touch('from-form'), headers));
    expect(answer.status).toBe(415);
    expect(answer.body).toEqual({ success: false, error_code: 'unsupported_media_type', error: `Expected Content-Type: application/json for POST /execute, got ${type ? `\`${type}\`` : 'none'}` });
    expect(existsSync(join(server.dataDir, 'slot_0', 'from-form'))).toBe(false);
  });

  it('answers 400, not 500, to a NUL byte in a command, and runs nothing', async () => {
    const res = await request(`${server.url}/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ slot_id: 'slot_0', tool: 'bash', args: { command: 'touch nul-ran\u0000x' } }),
    });
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toMatchObject({ success: false, error: 'Expected `args.command` to hold no NUL byte, got one at character 13', metadata: { error_code: 'invalid_request' } });
    expect(existsSync(join(server.dataDir, 'slot_0', 'nul-ran'))).toBe(false);
  });

  it('gets its 413 to undici request and Node fetch while they are still sending a large body', async () => {
    const outcomes: string[] = [];
    const expected: string[] = [];
    // Just over the cap (the answer races the end of the upload) up to far over it.
    for (const size of [210_000, 300_000, 1_000_000, 8_000_000]) {
      const body = JSON.stringify({ slot_id: 'slot_0', tool: 'write_file', args: { path: 'x', content: 'z'.repeat(size) } });
      for (let i = 0; i < 4; i++) {
        outcomes.push(
          await request(`${server.url}/execute`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(
            async (r) => `${size} undici ${r.statusCode} ${((await r.body.json()) as { error_code: string }).error_code}`,
            (e: Error & { code?: string }) => `${size} undici failed: ${e.code} ${e.message}`,
          ),
          await fetch(`${server.url}/execute`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(
            async (r) => `${size} fetch ${r.status} ${((await r.json()) as { error_code: string }).error_code}`,
            (e: Error & { cause?: { code?: string } }) => `${size} fetch failed: ${e.cause?.code} ${e.message}`,
          ),
        );
        expected.push(`${size} undici 413 body_too_large`, `${size} fetch 413 body_too_large`);
      }
    }
    expect(outcomes).toEqual(expected);
    // The server is still fine afterwards.
    expect((await request(`${server.url}/health`)).statusCode).toBe(200);
  });
});

describe('connection cap', () => {
  let capped: RunningSandboxServer;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    capped = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: join(root, 'capped'), isolation: 'off', http: { maxConnections: 2, headersTimeoutMs: 10_000 } });
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await capped?.close();
  });

  it('answers 503 beyond the cap and serves again once a connection closed', async () => {
    for (let i = 0; i < 2; i++) {
      const s = connect(capped.port, '127.0.0.1');
      await new Promise((r) => s.once('connect', r));
      sockets.push(s);
    }
    const over = await rawExchange(capped.port, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
    expect(over.status).toBe(503);
    expect(over.head.toLowerCase()).toContain('retry-after: 1');
    expect(over.body).toMatchObject({ error_code: 'too_many_connections', error: 'Too many connections: this sandbox server serves at most 2 at once (retry, or reuse a keep-alive connection)' });
    sockets.pop()!.destroy();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = (await rawExchange(capped.port, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(200);
  });
});
