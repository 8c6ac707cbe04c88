import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { makeSlotReachableTempDir } from '../../common/slot-reachable-temp-dir.js';
import { SandboxClient } from '../../client/sandbox-client.js';
import { SandboxHttpError } from '../../client/sandbox-http-error.js';
import { findOnPath } from '../find-on-path.js';
import { startSandboxServer, type RunningSandboxServer } from '../sandbox-server.js';
import { SESSION_DIR_INSIDE } from './terminal-session.js';
import { eventually, pidsWithMarker, uniqueSleepSeconds } from '../testing/processes.js';
import { spawnServer } from '../testing/spawned-server.js';

const tmuxMissing = findOnPath('tmux') ? undefined : 'tmux: not on PATH (apt-get install tmux)';
const describeTmux = tmuxMissing ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${tmuxMissing}]`, fn) : describe;

/** Pids of processes whose command line names the session's runtime directory (its tmux server and clients). */
function sessionPids(statefulDir: string): number[] {
  return pidsWithMarker(statefulDir);
}

async function startServer(root: string, slots: number, extra: Partial<Parameters<typeof startSandboxServer>[0]> = {}): Promise<RunningSandboxServer> {
  return startSandboxServer({ port: 0, host: '127.0.0.1', slots, dataDir: join(root, 'data'), isolation: 'auto', ...extra });
}

describeTmux('stateful terminals', () => {
  describeWith(['bwrap'], 'bash_stateful and tmux under bubblewrap', () => {
    let root: string;
    let server: RunningSandboxServer;
    let client: SandboxClient;

    beforeAll(async () => {
      root = await makeSlotReachableTempDir('hpcsb-terminal-');
      server = await startServer(root, 8, { limits: { maxOutputChars: 20_000 } });
      client = new SandboxClient(server.url);
      await client.waitUntilHealthy({ timeoutMs: 10_000 });
    });

    afterAll(async () => {
      await client?.close();
      await server?.close();
      await rm(root, { recursive: true, force: true });
    });

    it('lists the tools and the stateful dir in /health', async () => {
      const health = await client.health();
      expect(health.tools).toEqual(['bash', 'bash_stateful', 'read_file', 'write_file', 'tmux']);
      expect(health.stateful_dir).toBe(join(server.dataDir, '.stateful'));
    });

    it('keeps cwd, variables, functions and background jobs between calls', async () => {
      const first = await client.bashStateful('slot_0', 'mkdir -p sub; cd sub; export GREETING=hello; f() { echo "f:$1"; }; sleep 300 & echo started');
      expect(first).toMatchObject({ success: true, metadata: { exit_code: 0, stateful: true, sandboxed: true } });
      const second = await client.bashStateful('slot_0', 'pwd; echo "$GREETING"; f x; jobs | wc -l');
      expect(second.output).toBe('/workspace/sub\nhello\nf:x\n1');
      const failed = await client.bashStateful('slot_0', 'false');
      expect(failed).toMatchObject({ success: false, error: 'Exit code: 1', metadata: { exit_code: 1 } });
      const multiLine = await client.bashStateful('slot_0', 'cat <<EOF\nline one\nline "two"\nEOF\necho done # a trailing comment');
      expect(multiLine.output).toBe('line one\nline "two"\ndone');
    });

    it('shares the workspace with bash and keeps slots apart', async () => {
      await client.bashStateful('slot_1', 'echo from-stateful > shared.txt; export MINE=slot1');
      expect((await client.bash('slot_1', 'cat /workspace/shared.txt')).output).toBe('from-stateful');
      await client.bash('slot_1', 'echo from-bash > other.txt');
      expect((await client.bashStateful('slot_1', 'cat other.txt')).output).toBe('from-bash');
      const other = await client.bashStateful('slot_2', 'echo "[$MINE]"; ls /workspace | wc -l; id -u');
      expect(other.output.split('\n').slice(0, 2)).toEqual(['[]', '0']);
      const uid1 = (await client.bashStateful('slot_1', 'id -u')).output;
      expect(other.output.split('\n')[2]).not.toBe(uid1);
    });

    it('restarts the session in a new network namespace when allow_network changes, and says why', async () => {
      await client.bashStateful('slot_5', 'export BEFORE=1');
      const closed = await client.bashStateful('slot_5', 'echo "[$BEFORE]"; tail -n +3 /proc/net/dev | wc -l', { allowNetwork: false });
      expect(closed.metadata, JSON.stringify(closed)).toMatchObject({ network: 'none', network_isolated: true, session_restarted: 'allow_network changed to false, which needs a new sandbox' });
      expect(closed.output.split('\n').slice(1)).toEqual(['[]', '1']);
    });

    it('starts, sends keys, captures, streams and stops', async () => {
      const started = await client.tmux('slot_3', { action: 'start', pane_width: 100, pane_height: 30 });
      expect(started).toMatchObject({ success: true, output: 'started', metadata: { pane_width: 100, pane_height: 30, session: 's' } });
      expect(await client.tmux('slot_3', { action: 'send_keys', keys: ['echo hi-from-keys', 'Enter'], block: true })).toMatchObject({ success: true, output: 'ok', metadata: { blocked: true } });
      const captured = await client.tmux('slot_3', { action: 'capture' });
      expect(captured.output).toContain('hi-from-keys');
      expect(captured.output.split('\n').length).toBeGreaterThanOrEqual(30);
      const streamed = await client.tmux('slot_3', { action: 'stream', reset: true });
      expect(streamed.output).toContain('hi-from-keys');
      const offset = streamed.metadata.offset as number;
      expect(offset).toBeGreaterThan(0);
      const nothingNew = await client.tmux('slot_3', { action: 'stream' });
      expect(nothingNew).toMatchObject({ output: '', metadata: { offset } });
      await client.tmux('slot_3', { action: 'send_keys', keys: 'echo later' });
      await client.tmux('slot_3', { action: 'send_keys', keys: ['Enter'], block: true });
      const more = await client.tmux('slot_3', { action: 'stream' });
      expect(more.metadata.start_offset).toBe(offset);
      expect(more.output).toContain('later');
      const fromStart = await client.tmux('slot_3', { action: 'stream', offset: 0, max_bytes: 5 });
      expect(fromStart.metadata).toMatchObject({ start_offset: 0, offset: 5 });
      expect(await client.tmux('slot_3', { action: 'stop' })).toMatchObject({ success: true, output: 'stopped' });
      expect(readdirSync(join(server.dataDir, '.stateful'))).not.toContain('slot_3');
    });

    it('refuses an unknown action and names the actions', async () => {
      const error = await client.tmux('slot_3', { action: 'dance' } as never).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(SandboxHttpError);
      expect((error as SandboxHttpError).body).toMatchObject({ success: false, error: 'Unknown tmux action: dance (actions: start, send_keys, capture, stream, stop)' });
    });

    /** Polls the pane until it shows `text` (a program's own pace, not a fixed wait). */
    async function captureUntil(slotId: string, text: string | RegExp): Promise<void> {
      let last = '';
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        last = (await client.tmux(slotId, { action: 'capture' })).output;
        if (typeof text === 'string' ? last.includes(text) : text.test(last)) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`the pane never showed ${String(text)}: ${JSON.stringify(last)}`);
    }

    it('types keys with control characters as they are (C-c interrupts, ESC and tabs pass)', async () => {
      await client.tmux('slot_4', { action: 'start' });
      await client.tmux('slot_4', { action: 'send_keys', keys: ['sleep 600', 'Enter'], min_wait_s: 0.3 });
      await client.tmux('slot_4', { action: 'send_keys', keys: ['C-c'] });
      await captureUntil('slot_4', '^C');
      // Raw bytes to a program reading the terminal unprocessed: each control character arrives as it is.
      await client.tmux('slot_4', { action: 'send_keys', keys: ['stty raw -echo; echo RAW-READY; head -c 6 | od -An -tx1; stty sane', 'Enter'] });
      // Its own line: the program runs (not just the typed command line, which holds `RAW-READY;`).
      await captureUntil('slot_4', /^RAW-READY$/m);
      await client.tmux('slot_4', { action: 'send_keys', keys: ['a\x01\x1b\x7f\x03\t'] });
      await captureUntil('slot_4', '61 01 1b 7f 03 09');
      // A key that looks like a send-keys flag is typed, not obeyed.
      await client.tmux('slot_4', { action: 'send_keys', keys: ['echo', ' ', '-R', 'Enter'], block: true });
      expect((await client.tmux('slot_4', { action: 'capture' })).output).toMatch(/^-R$/m);
      // Quotes, dollars and backslashes reach the shell unchanged.
      await client.tmux('slot_4', { action: 'send_keys', keys: ['printf "%s|%s\\n" "q\\"\\$x" \'b\\\\c\'', 'Enter'], block: true });
      expect((await client.tmux('slot_4', { action: 'capture' })).output).toContain('q"$x|b\\\\c');
      expect((await client.bashStateful('slot_4', 'echo after')).output).toBe('after');
    });

    it('times out a hung command with the pane, ends the session and starts a new one next', async () => {
      const n = uniqueSleepSeconds();
      const hung = await client.bashStateful('slot_5', `echo before-hang; sleep ${n}`, { timeout: 1 });
      expect(hung).toMatchObject({ success: false, metadata: { timeout: true, exit_code: -1, session_stopped: true } });
      expect(hung.error).toMatch(/^Command timed out after 1s/);
      expect(hung.output).toContain('before-hang');
      expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
      const next = await client.bashStateful('slot_5', 'echo fresh');
      expect(next).toMatchObject({ success: true, output: expect.stringMatching(/^\[terminal session restarted: the previous session was ended when a command ran past its 1s timeout; .*\]\nfresh$/) });
    });

    it('restarts a session killed from inside, saying so', async () => {
      await client.bashStateful('slot_6', 'export KEEP=1');
      const killed = await client.bashStateful('slot_6', 'tmux kill-server');
      expect(killed.success).toBe(false);
      expect(killed.error).toMatch(/terminal session ended during the command/);
      const again = await client.bashStateful('slot_6', 'echo "[$KEEP]"');
      expect(again.success).toBe(true);
      expect(again.output).toMatch(/^\[terminal session restarted: .*\]\n\[\]$/);
      expect(again.metadata.session_restarted).toEqual(expect.any(String));
      const exited = await client.bashStateful('slot_6', 'exit 3');
      expect(exited.success).toBe(false);
      expect((await client.bashStateful('slot_6', 'echo ok')).output).toMatch(/ok$/);
    });

    it('caps a command printing 50 MB and keeps the server small', async () => {
      const before = process.memoryUsage().rss;
      const big = await client.bashStateful('slot_7', 'head -c 50000000 /dev/zero | tr "\\0" x; echo; echo tail-line', { timeout: 120 });
      expect(big.metadata).toMatchObject({ exit_code: 0, truncated: true });
      expect(big.output.length).toBeLessThanOrEqual(20_000 + 100);
      expect(process.memoryUsage().rss - before).toBeLessThan(300 * 1024 * 1024);
      expect((await client.bashStateful('slot_7', 'echo still-here')).output).toBe('still-here');
    });

    it('serves 8 slots busy at once', async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => client.bashStateful(`slot_${i}`, `cd /tmp && echo slot-${i} && sleep 0.2 && pwd`)));
      answers.forEach((answer, i) => expect(answer.output, JSON.stringify(answer)).toMatch(new RegExp(`(^|\\n)slot-${i}\\n/tmp$`)));
    });

    it('reset ends the session and leaves nothing running', async () => {
      const n = uniqueSleepSeconds();
      await client.bashStateful('slot_2', `sleep ${n} &`);
      await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0, 5_000, 'the background job');
      expect((await client.reset('slot_2')).success).toBe(true);
      expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
      expect(existsSync(join(server.dataDir, '.stateful', 'slot_2'))).toBe(false);
      expect((await client.bashStateful('slot_2', 'echo "[$MINE]" && pwd')).output).toBe('[]\n/workspace');
    });
  });
});

describeTmux('stateful terminals without bubblewrap, and shutdown', () => {
  let root: string;
  beforeAll(async () => {
    root = await makeSlotReachableTempDir('hpcsb-terminal-');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('runs on the host in the slot directory with --isolation off, and refuses require_stateful_sandbox', async () => {
    const server = await startServer(join(root, 'off'), 1, { isolation: 'off' });
    await using client = new SandboxClient(server.url);
    try {
      const slotDir = join(server.dataDir, 'slot_0');
      expect((await client.bashStateful('slot_0', 'cd sub 2>/dev/null || mkdir sub && cd sub; pwd')).output).toBe(join(slotDir, 'sub'));
      expect(await client.bashStateful('slot_0', 'pwd')).toMatchObject({ output: join(slotDir, 'sub'), metadata: { sandboxed: false } });
      const refused = await client.bashStateful('slot_0', 'true', { requireStatefulSandbox: true });
      expect(refused).toMatchObject({ success: false, metadata: { requires_bwrap: true } });
      expect(refused.error).toMatch(/^Stateful sandboxing required but bubblewrap is unavailable/);
    } finally {
      await server.close();
    }
  });

  it('lists only bash and the file tools where tmux is missing, and says tmux is what is missing', async () => {
    const server = await startServer(join(root, 'no-tmux'), 1, { isolation: 'off', env: { PATH: join(root, 'empty-path') } });
    await using client = new SandboxClient(server.url);
    try {
      const health = await client.health();
      expect(health.tools).toEqual(['bash', 'read_file', 'write_file']);
      expect(health.stateful_dir).toBeNull();
      const answer = await client.bashStateful('slot_0', 'true');
      expect(answer).toMatchObject({ success: false, metadata: { error_code: 'tool_unavailable', missing: 'tmux' } });
      expect(answer.error).toMatch(/need tmux, which is not installed/);
    } finally {
      await server.close();
    }
  });

  it('works in a server run by an unprivileged user (no slot uids)', async () => {
    if (process.getuid?.() !== 0) return;
    await using server = await spawnServer(['--slots', '2'], {}, { uid: 65534, gid: 65534 });
    await using client = new SandboxClient(server.url);
    const health = await client.waitUntilHealthy({ timeoutMs: 10_000 });
    await client.bashStateful('slot_0', 'cd /tmp && export V=kept');
    // The session runs as the commands of `bash` do (same uid as seen inside).
    const uid = (await client.bash('slot_0', 'id -u')).output;
    const answer = await client.bashStateful('slot_0', 'echo "$PWD $V $(id -u)"');
    expect(answer).toMatchObject({ success: true, output: `/tmp kept ${uid}`, metadata: { sandboxed: health.bwrap_available } });
    expect((await client.tmux('slot_1', { action: 'send_keys', keys: ['echo unprivileged-keys', 'Enter'], block: true })).success).toBe(true);
    expect((await client.tmux('slot_1', { action: 'capture' })).output).toContain('unprivileged-keys');
  });

  it('ends every session and its process tree at shutdown', async () => {
    const server = await startServer(join(root, 'shutdown'), 2);
    const client = new SandboxClient(server.url);
    const n = uniqueSleepSeconds();
    await client.bashStateful('slot_0', `sleep ${n} &`);
    await client.tmux('slot_1', { action: 'send_keys', keys: [`sleep ${n + 1}`, 'Enter'] });
    const hanging = client.bashStateful('slot_1', 'echo never', { timeout: 60 });
    await eventually(() => pidsWithMarker(`sleep ${n}`).length > 0 && pidsWithMarker(`sleep ${n + 1}`).length > 0, 5_000, 'both sleeps');
    const statefulDir = (await client.health()).stateful_dir!;
    expect(sessionPids(statefulDir).length).toBeGreaterThan(0);
    expect(pidsWithMarker(`-S ${SESSION_DIR_INSIDE}/tmux.sock`).length).toBeGreaterThan(0);
    await server.close();
    expect((await hanging).metadata).toMatchObject({ killed: true });
    await client.close();
    expect(pidsWithMarker(`sleep ${n}`)).toEqual([]);
    expect(pidsWithMarker(`sleep ${n + 1}`)).toEqual([]);
    expect(sessionPids(statefulDir)).toEqual([]);
    // The tmux servers themselves (inside their sandboxes they name the socket by its inside path).
    expect(pidsWithMarker(`-S ${SESSION_DIR_INSIDE}/tmux.sock`)).toEqual([]);
    expect(readdirSync(statefulDir)).toEqual([]);
  });
});
