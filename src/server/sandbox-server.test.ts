import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxClient } from '../client/sandbox-client.js';
import { SandboxHttpError } from '../client/sandbox-http-error.js';
import { AbortedError } from '../errors.js';
import { READY_FILE } from '../protocol/constants.js';
import { findOnPath } from './find-on-path.js';
import { startSandboxServer, type RunningSandboxServer } from './sandbox-server.js';
import { eventually, pidsWithMarker, uniqueSleepSeconds } from './testing/processes.js';

// In-process server with isolation off: everything here but bwrap itself (see the integration tests).
let root: string;
let server: RunningSandboxServer;
let client: SandboxClient;
const TOKEN = 's3cret-token';

async function raw(method: string, path: string, body?: string, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) {
  const res = await request(`${server.url}${path}`, { method: method as 'GET', body: body ?? null, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, json: JSON.parse(text) as Record<string, unknown> };
}

async function httpError(promise: Promise<unknown>): Promise<SandboxHttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SandboxHttpError);
  return error as SandboxHttpError;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'hpcsb-unit-'));
  server = await startSandboxServer({
    port: 0,
    host: '127.0.0.1',
    slots: 3,
    dataDir: join(root, 'data'),
    isolation: 'off',
    token: TOKEN,
    limits: { maxBodyBytes: 200_000, maxOutputChars: 1_000 },
  });
  client = new SandboxClient(server.url, { token: TOKEN });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe('sandbox server (in process, isolation off)', () => {
  it('writes the ready file with the bound port', async () => {
    const ready = JSON.parse(await readFile(join(server.dataDir, READY_FILE), 'utf8'));
    expect(ready).toMatchObject({ port: server.port, host: '127.0.0.1', pid: process.pid, version: expect.any(String), url: server.url });
    expect(server.port).toBeGreaterThan(0);
  });

  it('answers /health without a token, with Atropos fields and isolation details', async () => {
    const res = await request(`${server.url}/health`);
    const health = (await res.body.json()) as Record<string, any>;
    expect(res.statusCode).toBe(200);
    expect(health).toMatchObject({ status: 'ok', slots: 3, available: 3, executing: 0, data_dir: server.dataDir, bwrap_available: false, port: server.port, auth: true });
    expect(health.isolation).toMatchObject({ mode: 'off', active: false, reason: expect.stringContaining('--isolation off') });
    // The stateful tools are listed only where tmux is installed (they need it).
    expect(health.tools).toEqual(findOnPath('tmux') ? ['bash', 'bash_stateful', 'read_file', 'write_file', 'tmux'] : ['bash', 'read_file', 'write_file']);
    expect(health.stateful_dir).toBe(findOnPath('tmux') ? join(server.dataDir, '.stateful') : null);
  });

  it('lists slots', async () => {
    const { slots } = await client.slots();
    expect(slots.map((s) => s.slot_id)).toEqual(['slot_0', 'slot_1', 'slot_2']);
    expect(slots[0]).toMatchObject({ state: 'available', workspace_dir: join(server.dataDir, 'slot_0'), current_execution_id: null });
  });

  it('runs bash in the slot directory and says it fell back to plain execution', async () => {
    const r = await client.bash('slot_0', 'pwd; echo out; echo err >&2; exit 3', { executionId: 'e-1' });
    expect(r).toMatchObject({ success: false, error: 'Exit code: 3', execution_id: 'e-1' });
    expect(r.output).toBe(`${join(server.dataDir, 'slot_0')}\nout\n\n[stderr]\nerr`);
    expect(r.metadata).toMatchObject({ exit_code: 3, timeout: false, sandboxed: false, sandbox_fallback: true, fallback_reason: expect.stringContaining('off') });
  });

  it('gives commands a clean environment: only the named variables cross, the token never', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-unit-env-'));
    try {
      const env = { ...process.env, HPC_SANDBOX_TOKEN: 'leak-me', HPCSB_PASSED_THROUGH: 'kept', HPCSB_NOT_NAMED: 'secret', LANG: 'C.UTF-8' };
      const passEnv = ['HPCSB_PASSED_THROUGH', 'HPC_SANDBOX_TOKEN'];
      const s = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: dir, isolation: 'off', env, passEnv });
      await using c = new SandboxClient(s.url);
      try {
        const r = await c.bash('slot_0', 'echo "[${HPC_SANDBOX_TOKEN:-unset}] [${HPCSB_PASSED_THROUGH:-unset}] [${HPCSB_NOT_NAMED:-unset}]"; env | cut -d= -f1 | sort | tr "\\n" " "');
        const [line, names] = r.output.split('\n');
        expect(line).toBe('[unset] [kept] [unset]');
        expect(names!.trim().split(' ').filter((name) => name !== '_' && name !== 'SHLVL' && name !== 'PWD')).toEqual(['HOME', 'HPCSB_PASSED_THROUGH', 'LANG', 'PATH', 'TERM', 'TZ', 'USER']);
      } finally {
        await s.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses allow_network:false and require_sandbox without bwrap', async () => {
    const net = await client.bash('slot_0', 'true', { allowNetwork: false });
    expect(net).toMatchObject({ success: false, metadata: { requires_bwrap: true, sandboxed: false } });
    expect(net.error).toContain('Network isolation requested');
    const req = await client.bash('slot_0', 'true', { requireSandbox: true });
    expect(req).toMatchObject({ success: false, metadata: { requires_bwrap: true } });
    expect(req.error).toContain('Sandboxing required');
  });

  it('caps output and reports truncation', async () => {
    const r = await client.bash('slot_0', 'head -c 5000 /dev/zero | tr "\\0" a');
    expect(r.metadata.truncated).toBe(true);
    expect(r.output).toBe('a'.repeat(1_000) + '\n... (output truncated)');
  });

  it('kills the whole tree on timeout, grandchildren and setsid escapees included, and returns output so far', async () => {
    const n = uniqueSleepSeconds();
    const r = await client.bash('slot_1', `echo started; sleep ${n} & (sleep ${n + 1} &) ; setsid sleep ${n + 2} & sleep ${n + 3}`, { timeout: 1 });
    expect(r).toMatchObject({ success: false, error: 'Command timed out after 1s', metadata: { timeout: true, exit_code: -1 } });
    expect(r.output).toBe('started');
    await eventually(() => [n, n + 1, n + 2, n + 3].every((m) => pidsWithMarker(`sleep ${m}`).length === 0), 2_000, 'the sleeps to die');
  });

  it('kills the command of a client that went away, and frees its slot', async () => {
    const n = uniqueSleepSeconds();
    const controller = new AbortController();
    const call = client.bash('slot_1', `sleep ${n}`, { timeout: 60, signal: controller.signal });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the sleep to start');
    controller.abort(new Error('the caller gave up'));
    await expect(call).rejects.toBeInstanceOf(AbortedError);
    await eventually(() => pidsWithMarker(`sleep ${n}`).length === 0, 3_000, 'the sleep to die');
    expect(await client.bash('slot_1', 'echo free')).toMatchObject({ success: true, output: 'free' });
  });

  it('says why a command was killed', async () => {
    const n = uniqueSleepSeconds();
    const running = client.bash('slot_2', `sleep ${n}`, { timeout: 60 });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the sleep to start');
    await client.reset('slot_2');
    expect(await running).toMatchObject({ success: false, error: 'Command killed: slot slot_2 is being reset', metadata: { killed: true } });
  });

  it('ends background jobs with the command (the call does not hang on them)', async () => {
    const n = uniqueSleepSeconds();
    const r = await client.bash('slot_1', `sleep ${n} & echo done`, { timeout: 20 });
    expect(r).toMatchObject({ success: true, output: 'done' });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length === 0, 2_000, 'the background sleep to die');
  });

  it('streams output as NDJSON (stream: true or Accept) and the result last, in spawn mode', async () => {
    const chunks = [];
    for await (const chunk of client.executeStream({ slot_id: 'slot_0', tool: 'bash', args: { command: 'echo one; echo two >&2; exit 4' }, execution_id: 's-1' })) chunks.push(chunk);
    expect(chunks.filter((c) => c.type !== 'result').map((c) => `${c.type}:${(c as { data: string }).data}`).join('')).toContain('stdout:one\n');
    expect(chunks.at(-1)).toMatchObject({ type: 'result', success: false, error: 'Exit code: 4', execution_id: 's-1', metadata: { exec_mode: 'spawn' } });
    const res = await request(`${server.url}/execute`, { method: 'POST', body: JSON.stringify({ slot_id: 'slot_0', tool: 'read_file', args: { path: 'nope.txt' } }), headers: { 'content-type': 'application/json', accept: 'application/x-ndjson', authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(JSON.parse((await res.body.text()).trim())).toMatchObject({ type: 'result', success: false });
    await expect(async () => {
      for await (const _ of client.executeStream({ slot_id: 'slot_9', tool: 'bash', args: { command: 'true' } })) void _;
    }).rejects.toBeInstanceOf(SandboxHttpError);
  });

  it('serialises work in one slot and runs slots in parallel', async () => {
    const [a, b, c] = await Promise.all([
      client.bash('slot_2', 'date +%s%N; sleep 0.3; date +%s%N'),
      client.bash('slot_2', 'date +%s%N; sleep 0.3; date +%s%N'),
      client.bash('slot_1', 'date +%s%N; sleep 0.3; date +%s%N'),
    ]);
    const span = (r: typeof a) => r.output.split('\n').map((x) => Number(BigInt(x) / 1_000_000n));
    const [a0, a1] = span(a);
    const [b0, b1] = span(b);
    const [c0] = span(c);
    // Same slot: no overlap. Other slot: overlaps the first.
    expect(b0! >= a1! || a0! >= b1!).toBe(true);
    expect(c0! < Math.max(a1!, b1!)).toBe(true);
  });

  it('writes and reads files, with /workspace paths accepted', async () => {
    const w = await client.writeFile('slot_0', 'dir/sub/f.txt', 'héllo');
    expect(w).toMatchObject({ success: true, output: 'Successfully wrote 6 bytes to dir/sub/f.txt', metadata: { size: 6 } });
    expect(await client.readFile('slot_0', '/workspace/dir/sub/f.txt')).toBe('héllo');
  });

  it('answers 404 for a missing file and 413 for a file or content too large', async () => {
    expect((await httpError(client.readFile('slot_0', 'missing.txt'))).statusCode).toBe(404);
    await writeFile(join(server.dataDir, 'slot_0', 'big.txt'), 'x'.repeat(100_001));
    const big = await httpError(client.readFile('slot_0', 'big.txt'));
    expect(big.statusCode).toBe(413);
    expect(big.body).toMatchObject({ success: false, metadata: { error_code: 'too_large', size: 100_001 } });
    expect((await httpError(client.writeFile('slot_0', 'huge.txt', 'y'.repeat(100_001)))).statusCode).toBe(413);
  });

  describe('path escapes are refused with 403', () => {
    beforeAll(async () => {
      const slot = join(server.dataDir, 'slot_0');
      await writeFile(join(root, 'outside.txt'), 'secret');
      await symlink(join(root, 'outside.txt'), join(slot, 'link-out'));
      await symlink(root, join(slot, 'dir-out'));
      await symlink(join(root, 'not-there.txt'), join(slot, 'dangling-out'));
      await mkdir(join(slot, 'inner'), { recursive: true });
      await writeFile(join(slot, 'inner', 'ok.txt'), 'ok');
      await symlink('ok.txt', join(slot, 'inner', 'link-in'));
    });

    it.each([
      ['read_file ../', () => client.readFile('slot_0', '../slot_1/x')],
      ['read_file absolute', () => client.readFile('slot_0', '/etc/passwd')],
      ['read_file symlink', () => client.readFile('slot_0', 'link-out')],
      ['read_file through dir symlink', () => client.readFile('slot_0', 'dir-out/outside.txt')],
      ['write_file symlink', () => client.writeFile('slot_0', 'link-out', 'pwned')],
      ['write_file dangling symlink', () => client.writeFile('slot_0', 'dangling-out', 'pwned')],
      ['write_file through dir symlink', () => client.writeFile('slot_0', 'dir-out/new.txt', 'pwned')],
      ['artifacts/read symlink', () => client.readArtifact('slot_0', 'link-out')],
      ['artifacts/read dangling symlink', () => client.readArtifact('slot_0', 'dangling-out')],
      ['artifacts/list dangling symlink', () => client.listArtifacts('slot_0', 'dangling-out')],
      ['artifacts/archive dangling symlink', () => client.archiveArtifacts('slot_0', 'dangling-out')],
      ['artifacts/list dir symlink', () => client.listArtifacts('slot_0', 'dir-out')],
      ['artifacts/archive dir symlink', () => client.archiveArtifacts('slot_0', 'dir-out')],
      ['artifacts/archive ..', () => client.archiveArtifacts('slot_0', '..')],
    ])('%s', async (_name, call) => {
      const error = await httpError(call());
      expect(error.statusCode).toBe(403);
      expect(JSON.stringify(error.body)).toContain('path_escape');
    });

    it('left the outside untouched', async () => {
      expect(await readFile(join(root, 'outside.txt'), 'utf8')).toBe('secret');
      expect(existsSync(join(root, 'not-there.txt'))).toBe(false);
      expect(existsSync(join(root, 'new.txt'))).toBe(false);
    });

    it('follows symlinks that stay inside', async () => {
      expect(await client.readFile('slot_0', 'inner/link-in')).toBe('ok');
    });

    it('answers 404, not 500, for a dangling symlink that stays inside', async () => {
      await symlink('gone.txt', join(server.dataDir, 'slot_0', 'inner', 'dangling-in'));
      for (const call of [() => client.readArtifact('slot_0', 'inner/dangling-in'), () => client.listArtifacts('slot_0', 'inner/dangling-in'), () => client.archiveArtifacts('slot_0', 'inner/dangling-in')]) {
        const error = await httpError(call());
        expect(error.statusCode).toBe(404);
        expect(error.body).toMatchObject({ error_code: 'not_found', error: 'Not found: inner/dangling-in (a symlink to gone.txt, which does not exist)' });
      }
    });

    it('lists symlinks without following them and archives only those that stay inside', async () => {
      const list = await client.listArtifacts('slot_0', '.', { recursive: true });
      const byPath = Object.fromEntries(list.entries.map((e) => [e.path, e]));
      expect(byPath['link-out']).toMatchObject({ is_symlink: true, is_dir: false });
      expect(byPath['inner/ok.txt']).toMatchObject({ is_dir: false, size: 2 });
      expect(list.entries.some((e) => e.path.startsWith('dir-out/'))).toBe(false);
      const archive = await client.archiveArtifacts('slot_0', 'inner');
      const tar = gunzipSync(Buffer.from(archive.content, 'base64'));
      const names = tarNames(tar);
      expect(names).toEqual(['inner/link-in', 'inner/ok.txt']);
    });
  });

  it('answers 400, not 500, for a symlink loop or an over-long name', async () => {
    await symlink('loop-b', join(server.dataDir, 'slot_1', 'loop-a'));
    await symlink('loop-a', join(server.dataDir, 'slot_1', 'loop-b'));
    const loop = await httpError(client.readFile('slot_1', 'loop-a'));
    expect(loop.statusCode).toBe(400);
    expect(loop.body).toMatchObject({ metadata: { error_code: 'invalid_path' } });
    expect((await httpError(client.readArtifact('slot_1', 'loop-a/x'))).statusCode).toBe(400);
    expect((await httpError(client.writeFile('slot_1', 'n'.repeat(300), 'x'))).statusCode).toBe(400);
  });

  it('reads artifacts as text or base64 with sha256 and a byte cap', async () => {
    await client.writeFile('slot_1', 'a.json', '{"k": "0123456789"}');
    const text = await client.readArtifact('slot_1', 'a.json', { include_sha256: true });
    expect(text).toMatchObject({ content: '{"k": "0123456789"}', encoding: 'text', truncated: false, bytes: 19, file_size: 19, path: 'a.json', mime: 'application/json' });
    expect(text.sha256).toMatch(/^[0-9a-f]{64}$/);
    const cut = await client.readArtifact('slot_1', 'a.json', { encoding: 'base64', max_bytes: 4 });
    expect(cut).toMatchObject({ content: Buffer.from('{"k"').toString('base64'), truncated: true, bytes: 4, sha256: null });
    expect((await httpError(client.readArtifact('slot_1', 'nope'))).statusCode).toBe(404);
  });

  it('lists with max_entries and says it truncated', async () => {
    for (const n of [1, 2, 3]) await client.writeFile('slot_2', `l/${n}.txt`, String(n));
    const all = await client.listArtifacts('slot_2', 'l');
    expect(all).toMatchObject({ truncated: false, entries: [{ path: 'l/1.txt' }, { path: 'l/2.txt' }, { path: 'l/3.txt' }] });
    const two = await client.listArtifacts('slot_2', 'l', { max_entries: 2 });
    expect(two.entries).toHaveLength(2);
    expect(two.truncated).toBe(true);
  });

  it('archives a directory as tar.gz and refuses one above max_bytes with 413', async () => {
    const archive = await client.archiveArtifacts('slot_2', 'l');
    expect(archive).toMatchObject({ encoding: 'base64', format: 'tar.gz', entry_count: 3 });
    expect(tarNames(gunzipSync(Buffer.from(archive.content, 'base64')))).toEqual(['l/1.txt', 'l/2.txt', 'l/3.txt']);
    expect((await httpError(client.archiveArtifacts('slot_2', 'l', { max_bytes: 10 }))).statusCode).toBe(413);
  });

  it('resets a slot: kills what runs in it and empties it', async () => {
    await client.writeFile('slot_2', 'keep/me.txt', 'x');
    const n = uniqueSleepSeconds();
    const running = client.bash('slot_2', `sleep ${n}`, { timeout: 60 });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the sleep to start');
    const reset = await client.reset('slot_2');
    expect(reset).toMatchObject({ success: true, output: 'Reset workspace for slot_2' });
    expect(await running).toMatchObject({ success: false, metadata: { killed: true } });
    expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
    expect((await client.listArtifacts('slot_2')).entries).toEqual([]);
  });

  it('recreates a slot whose directory a command removed (possible outside bwrap) on reset', async () => {
    expect(await client.bash('slot_2', 'rm -rf "$PWD"')).toMatchObject({ success: true });
    const broken = await client.bash('slot_2', 'true');
    expect(broken).toMatchObject({ success: false, metadata: { sandboxed: false } });
    const slotDir = join(server.dataDir, 'slot_2');
    expect(broken.error).toMatch(/^Failed to start \/\S+ for slot /);
    expect(broken.error).toContain(`for slot ${slotDir}: its working directory ${slotDir} does not exist (POST /reset recreates a removed slot)`);
    expect(await client.reset('slot_2')).toMatchObject({ success: true });
    expect(await client.bash('slot_2', 'pwd')).toMatchObject({ success: true, output: join(server.dataDir, 'slot_2') });
  });

  it('runs a batch in order, with per-item errors', async () => {
    const answers = await client.batch([
      { slot_id: 'slot_0', tool: 'bash', args: { command: 'echo one' }, execution_id: 'b1' },
      { slot_id: 'slot_1', tool: 'bash', args: { command: 'echo two' }, execution_id: 'b2' },
      { slot_id: 'slot_9', tool: 'bash', args: { command: 'true' }, execution_id: 'b3' },
      { slot_id: 'slot_0', tool: 'bogus', args: {}, execution_id: 'b4' },
      { slot_id: 'slot_0', tool: 'bash', args: { command: 'true' }, timeout: -1, execution_id: 'b5' },
    ]);
    expect(answers.map((a) => [a.success, a.output, a.execution_id])).toEqual([
      [true, 'one', 'b1'],
      [true, 'two', 'b2'],
      [false, '', 'b3'],
      [false, '', 'b4'],
      [false, '', 'b5'],
    ]);
    expect(answers[2]!.error).toBe('Unknown slot: slot_9 (this server has slot_0..slot_2)');
    expect(answers[3]!.error).toBe('Unknown tool: bogus (tools: bash, bash_stateful, read_file, write_file, tmux)');
    expect(answers[4]).toMatchObject({ error: expect.stringContaining('`[4].timeout`'), metadata: { error_code: 'invalid_request' } });
  });

  describe('bad requests get JSON errors with the right status', () => {
    it.each([
      ['malformed JSON', 'POST', '/execute', '{"slot_id":', 400, 'Invalid JSON'],
      ['empty body', 'POST', '/execute', '', 400, 'empty'],
      ['missing slot_id', 'POST', '/execute', '{"tool":"bash","args":{"command":"true"}}', 400, '`slot_id`'],
      ['args not an object', 'POST', '/execute', '{"slot_id":"slot_0","tool":"bash","args":[]}', 400, '`args`'],
      ['negative timeout', 'POST', '/execute', '{"slot_id":"slot_0","tool":"bash","args":{"command":"true"},"timeout":-1}', 400, '`timeout`'],
      ['command not a string', 'POST', '/execute', '{"slot_id":"slot_0","tool":"bash","args":{"command":5}}', 400, '`args.command`'],
      ['unknown tool', 'POST', '/execute', '{"slot_id":"slot_0","tool":"rm_rf","args":{}}', 400, 'tools: bash, bash_stateful, read_file, write_file, tmux'],
      ['unknown slot', 'POST', '/execute', '{"slot_id":"slot_7","tool":"bash","args":{"command":"true"}}', 404, 'Unknown slot: slot_7'],
      ['batch not an array', 'POST', '/batch', '{}', 400, 'JSON array'],
      ['reset unknown slot', 'POST', '/reset', '{"slot_id":"slot_7"}', 404, 'Unknown slot'],
      ['reset without slot', 'POST', '/reset', '{}', 400, '`slot_id`'],
      ['artifacts bad encoding', 'POST', '/artifacts/read', '{"slot_id":"slot_0","path":"x","encoding":"hex"}', 400, '`encoding`'],
      ['artifacts unknown slot', 'POST', '/artifacts/list', '{"slot_id":"nope"}', 404, 'Unknown slot'],
      ['archive bad format', 'POST', '/artifacts/archive', '{"slot_id":"slot_0","format":"zip"}', 400, '`format`'],
      ['unknown route', 'GET', '/nope', undefined, 404, 'No endpoint GET /nope'],
      ['wrong method', 'GET', '/execute', undefined, 405, 'use POST'],
    ])('%s', async (_name, method, path, body, status, fragment) => {
      const res = await raw(method, path, body);
      expect(res.status).toBe(status);
      expect(res.json.success).toBe(false);
      expect(JSON.stringify(res.json)).toContain(fragment.replaceAll('"', '\\"'));
    });

    it('answers 413 to a body above the cap', async () => {
      const res = await raw('POST', '/execute', JSON.stringify({ slot_id: 'slot_0', tool: 'write_file', args: { path: 'x', content: 'z'.repeat(300_000) } }));
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ success: false, error_code: 'body_too_large' });
    });

    it('answers 401 without or with a wrong token, on every endpoint but /health', async () => {
      for (const [method, path] of [['POST', '/execute'], ['POST', '/batch'], ['POST', '/reset'], ['GET', '/slots'], ['POST', '/artifacts/read'], ['POST', '/artifacts/list'], ['POST', '/artifacts/archive']] as const) {
        const none = await raw(method, path, '{}', {});
        expect(none.status, `${method} ${path}`).toBe(401);
        expect(none.headers['www-authenticate']).toBe('Bearer');
        const wrong = await raw(method, path, '{}', { authorization: 'Bearer s3cret-tokem' });
        expect(wrong.status, `${method} ${path}`).toBe(401);
      }
      const unauthenticated = new SandboxClient(server.url);
      try {
        expect((await unauthenticated.health()).status).toBe('ok');
        const error = await httpError(unauthenticated.slots());
        expect(error).toMatchObject({ statusCode: 401, method: 'GET', path: '/slots', code: 'HPCSB_SANDBOX_HTTP' });
      } finally {
        await unauthenticated.close();
      }
    });
  });
});

describe('sandbox server shutdown', () => {
  it('kills running commands, never starts queued ones, answers both, and removes the ready file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-unit-close-'));
    try {
      const s = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: dir, isolation: 'off' });
      const c = new SandboxClient(s.url);
      const n = uniqueSleepSeconds();
      // One request, so both are queued in the slot before the shutdown: the second waits its turn.
      const batch = c.batch([
        { slot_id: 'slot_0', tool: 'bash', args: { command: `sleep ${n}` }, timeout: 60 },
        { slot_id: 'slot_0', tool: 'bash', args: { command: `touch started-after-shutdown; sleep ${n + 1}` }, timeout: 60 },
      ]);
      await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the sleep to start');
      expect(existsSync(join(dir, READY_FILE))).toBe(true);
      await s.close();
      const [running, queued] = await batch;
      expect(running).toMatchObject({ success: false, metadata: { killed: true } });
      expect(queued).toMatchObject({ success: false, metadata: { killed: true } });
      expect(existsSync(join(dir, READY_FILE))).toBe(false);
      expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
      expect(pidsWithMarker(`sleep ${n + 1}`)).toEqual([]);
      expect(existsSync(join(dir, 'slot_0', 'started-after-shutdown'))).toBe(false);
      await c.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails to start with the port in use, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-unit-port-'));
    try {
      const first = await startSandboxServer({ port: 0, host: '127.0.0.1', slots: 1, dataDir: join(dir, 'a'), isolation: 'off' });
      try {
        await expect(startSandboxServer({ port: first.port, host: '127.0.0.1', slots: 1, dataDir: join(dir, 'b'), isolation: 'off' })).rejects.toThrow(/EADDRINUSE/);
      } finally {
        await first.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Names of the entries of an uncompressed tar (ustar prefix joined, PAX path honoured). */
function tarNames(tar: Buffer): string[] {
  const names: string[] = [];
  let offset = 0;
  let paxPath: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    const str = (start: number, len: number) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(str(124, 12), 8);
    const type = str(156, 1);
    const body = tar.subarray(offset + 512, offset + 512 + size);
    if (type === 'x') {
      paxPath = /\d+ path=(.*)\n/.exec(body.toString('utf8'))?.[1];
    } else {
      const prefix = str(345, 155);
      names.push(paxPath ?? (prefix ? `${prefix}/${str(0, 100)}` : str(0, 100)));
      paxPath = undefined;
    }
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}
