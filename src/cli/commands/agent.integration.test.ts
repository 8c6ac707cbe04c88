import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { nomadDoubleBinDir } from '../../schedulers/nomad/double.js';
import type { CliIo } from '../cli-io.js';
import { agentCommand } from './agent.js';

function capture(): Writable & { text: string } {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      stream.text += String(chunk);
      done();
    },
  }) as Writable & { text: string };
  stream.text = '';
  return stream;
}

// Against the Nomad TEST DOUBLE (fixtures/nomad-double/bin first on PATH), booted like `nomad agent -dev`.
it('hpc-sandbox agent boots a dev agent, prints its address, and stops it on abort', async () => {
  const stdout = capture();
  const stderr = capture();
  const io: CliIo = { stdout, stderr, env: { ...process.env, PATH: `${nomadDoubleBinDir()}${delimiter}${process.env.PATH}` }, exitCode: 0 };
  const controller = new AbortController();
  const running = agentCommand(io, { signal: controller.signal }).parseAsync(['--driver', 'singularity'], { from: 'user' });
  await expect.poll(() => stdout.text, { timeout: 30_000 }).toContain('export NOMAD_ADDR=');
  const address = /export NOMAD_ADDR=(\S+)/.exec(stdout.text)![1]!;
  expect(stdout.text).toContain('Nomad v0.0.0-hpc-sandbox-double (hpc-sandbox test double, not Nomad) ready at');
  expect(stdout.text).toContain('(driver raw_exec healthy)');
  const leader = await fetch(`${address}/v1/status/leader`).then((r) => r.json());
  expect(leader).toMatch(/^127\.0\.0\.1:\d+$/);
  const dataDir = /data dir: (\S+)/.exec(stdout.text)![1]!;
  controller.abort();
  await running;
  expect(stderr.text).toContain('stopping the Nomad agent');
  await expect(fetch(`${address}/v1/status/leader`)).rejects.toThrow();
  expect(existsSync(dataDir)).toBe(false);
});

it('hpc-sandbox agent fails, naming the agent and its exit, when the agent dies on its own', async () => {
  const stdout = capture();
  const io: CliIo = { stdout, stderr: capture(), env: { ...process.env, PATH: `${nomadDoubleBinDir()}${delimiter}${process.env.PATH}` }, exitCode: 0 };
  const controller = new AbortController();
  const running = agentCommand(io, { signal: controller.signal }).parseAsync(['--driver', 'process'], { from: 'user' });
  try {
    await expect.poll(() => stdout.text, { timeout: 30_000 }).toContain('Ctrl-C stops the agent');
    const pid = Number(/pid: +(\d+)/.exec(stdout.text)![1]);
    const dataDir = /data dir: (\S+)/.exec(stdout.text)![1]!;
    process.kill(pid, 'SIGKILL');
    await expect(running).rejects.toThrowError(new RegExp(`^The Nomad agent at http://127\\.0\\.0\\.1:\\d+ \\(pid ${pid}\\) exited on its own \\(code null, signal SIGKILL\\); its last log lines:\n`));
    expect(existsSync(dataDir)).toBe(false);
  } finally {
    controller.abort();
    await running.catch(() => undefined);
  }
});

it('rejects a bad --http-port with the flag named', async () => {
  const io: CliIo = { stdout: capture(), stderr: capture(), env: process.env, exitCode: 0 };
  await expect(agentCommand(io).parseAsync(['--http-port', 'x'], { from: 'user' })).rejects.toThrowError('Expected `--http-port` to be a positive integer, got `x`');
});
