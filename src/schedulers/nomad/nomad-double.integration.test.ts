import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Agent, request } from 'undici';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { SandboxClient } from '../../client/index.js';
import type { Driver, DriverName, SandboxSpec } from '../../drivers/driver.js';
import { CONTAINER_PORT, getDriver } from '../../drivers/index.js';
import { ensureImage } from '../../images/ensure-image.js';
import { isSandboxError } from '../../errors.js';
import { startLocalAgent, type LocalNomadAgent } from './agent.js';
import { nomadDoubleBinDir } from './double.js';
import { NomadScheduler } from './scheduler.js';

// Every test here runs against the Nomad TEST DOUBLE (fixtures/nomad-double), booted exactly like
// `nomad agent -dev -config FILE` with the double first on PATH. The live leg against a real
// agent is nomad-live.integration.test.ts.
const doubleEnv: NodeJS.ProcessEnv = { ...process.env, PATH: `${nomadDoubleBinDir()}${delimiter}${process.env.PATH ?? ''}` };
const SPEC: SandboxSpec = { slots: 2, envAllowlist: [], env: { GREETING: 'hi' }, isolation: 'off' };

/** A temp dir removed on dispose. */
async function temporaryDirectory(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** PIDs of processes whose command line mentions `needle` (to prove nothing is left behind). */
async function processesMentioning(needle: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Files named `name` under `dir` (recursive), to see what the server wrote through the bind. */
async function findFiles(dir: string, name: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name === name).map((e) => join(e.parentPath, e.name));
}

/**
 * Boots a double agent for `driver` before the suite's tests and, after them, stops it and checks
 * that no process runs from its data dir and the data dir is gone.
 */
function useDoubleAgent(driver: DriverName): { agent: LocalNomadAgent; nomad: NomadScheduler } {
  const booted = {} as { agent: LocalNomadAgent; nomad: NomadScheduler };
  beforeAll(async () => {
    booted.agent = await startLocalAgent({ driver, env: doubleEnv });
    booted.nomad = new NomadScheduler({ address: booted.agent.address });
  });
  afterAll(async () => {
    const { agent, nomad } = booted;
    await nomad?.close();
    await agent?.stop();
    if (agent) {
      expect(await processesMentioning(agent.dataDir)).toEqual([]);
      expect(existsSync(agent.dataDir), `${agent.dataDir} left behind`).toBe(false);
    }
  });
  return booted;
}

interface LegExpectations {
  /** The port the server itself binds: the host port under raw_exec, the container port under docker. */
  serverPort: (hostPort: number) => number;
  /** The data dir the server reports: the alloc's data dir on the host, or the image's /data. */
  dataDir: (allocDataDir: string) => string;
}

async function exerciseSandbox(url: string, token: string | undefined, hostPort: number, allocDataDir: string, leg: LegExpectations): Promise<void> {
  await using client = new SandboxClient(url, { token });
  const health = await client.waitUntilHealthy({ timeoutMs: 60_000 });
  // Env expansion reached the server: NOMAD_PORT_http is the port it binds, NOMAD_ALLOC_DIR/data its data dir.
  expect(health.port).toBe(leg.serverPort(hostPort));
  expect(health.data_dir).toBe(leg.dataDir(allocDataDir));
  const bash = await client.bash('slot_0', 'echo "hello from $((6*7)) $GREETING [$NOMAD_ALLOC_ID]"');
  expect(bash.success).toBe(true);
  // The spec's env arrives; Nomad's own variables reach the server (the port above) but never a
  // command: a slot sees only the variables it was granted (DESIGN 5b).
  expect(bash.output).toContain('hello from 42 hi []');
  await client.writeFile('slot_1', 'notes/nomad-double-note.txt', 'nomad double\n');
  expect(await client.readFile('slot_1', 'notes/nomad-double-note.txt')).toBe('nomad double\n');
  // The file landed in the allocation's data dir on the host (the bind / NOMAD_ALLOC_DIR/data).
  expect(await findFiles(allocDataDir, 'nomad-double-note.txt')).toHaveLength(1);
}

function legs(name: 'process' | 'charliecloud' | 'docker', driverFactory: () => Driver, spec: () => SandboxSpec, leg: LegExpectations): void {
  const booted = useDoubleAgent(name);

  it(`nomad x ${name}: places a sandbox that answers on the discovered port, with bash and files`, async () => {
    const { agent, nomad } = booted;
    expect(agent.isDouble).toBe(true);
    expect(agent.version).toContain('test double');
    const detection = await nomad.detect();
    expect(detection).toMatchObject({ available: true, version: expect.stringContaining('test double') });
    await using placement = await nomad.place({ driver: driverFactory(), spec: spec(), ports: { mode: 'dynamic' }, name: `it-${name}` });
    expect(placement.host).toBe('127.0.0.1');
    expect(placement.port).toBeGreaterThanOrEqual(20000);
    await placement.waitUntilHealthy({ timeoutMs: 90_000 });
    expect(placement.timestamps.healthy).toBeGreaterThanOrEqual(placement.timestamps.submitted);
    const { allocId, jobId } = placement as unknown as { allocId: string; jobId: string };
    await exerciseSandbox(placement.url, placement.token, placement.port, join(agent.dataDir, 'alloc', allocId, 'alloc', 'data'), leg);
    expect(placement.events.map((e) => e.type)).toEqual(expect.arrayContaining(['Received', 'Task Setup', 'Started']));
    expect(await placement.status()).toBe('running');
    await placement.stop();
    const exit = await placement.exited;
    expect(exit.reason).toMatch(/complete|gone|stopped/);
    const { value: allocs } = await nomad.client.jobAllocations(jobId);
    expect(allocs.filter((a) => a.ClientStatus === 'running')).toEqual([]);
  });
}

const onHost: LegExpectations = { serverPort: (port) => port, dataDir: (dir) => dir };
const inImage = (serverPort: (port: number) => number): LegExpectations => ({ serverPort, dataDir: () => '/data' });

describeWith(['docker'], 'Nomad scheduler through the test double: nomad x docker', () => {
  let image = '';
  beforeAll(async () => {
    image = (await ensureImage('docker')).ref;
  });
  legs('docker', () => getDriver('docker'), () => ({ ...SPEC, image }), inImage(() => CONTAINER_PORT));
  afterAll(async () => {
    const dockerSocket = new Agent({ connect: { socketPath: '/var/run/docker.sock' } });
    const answer = await request('http://localhost/containers/json?all=1', { dispatcher: dockerSocket });
    const left = (await answer.body.json()) as Array<{ Labels: Record<string, string> }>;
    await dockerSocket.close();
    expect(left.filter((c) => c.Labels['io.hpc-sandbox.nomad-double.alloc'])).toEqual([]);
  });
});

describeWith(['charliecloud', 'squashfs'], 'Nomad scheduler through the test double: nomad x charliecloud', () => {
  let image = '';
  beforeAll(async () => {
    image = (await ensureImage('squashfs')).ref;
  });
  legs('charliecloud', () => getDriver('charliecloud'), () => ({ ...SPEC, image }), inImage((port) => port));
});

describe('Nomad scheduler through the test double: nomad x process', () => {
  legs('process', () => getDriver('process'), () => SPEC, onHost);

  describe('several sandboxes and failures', () => {
    const booted = useDoubleAgent('process');

    it('places two raw_exec sandboxes with dynamic ports on one agent, and both answer', async () => {
      const { nomad } = booted;
      const driver = getDriver('process');
      await using first = await nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'pair' });
      await using second = await nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'pair' });
      expect(second.port).not.toBe(first.port);
      await Promise.all([first.waitUntilHealthy(), second.waitUntilHealthy()]);
      await using a = new SandboxClient(first.url);
      await using b = new SandboxClient(second.url);
      const [ha, hb] = await Promise.all([a.health(), b.health()]);
      expect([ha.port, hb.port]).toEqual([first.port, second.port]);
      expect(ha.data_dir).not.toBe(hb.data_dir);
    });

    it('names the port when a second sandbox asks for a static port already reserved', async () => {
      const { agent, nomad } = booted;
      const driver = getDriver('process');
      const port = agent.ports.serf + 1000 > 65000 ? 24567 : agent.ports.serf + 1000;
      await using holder = await nomad.place({ driver, spec: SPEC, ports: { mode: 'static', port }, name: 'static' });
      expect(holder.port).toBe(port);
      const second = nomad.place({ driver, spec: SPEC, ports: { mode: 'static', port }, name: 'static' });
      await expect(second).rejects.toThrowError(`static port ${port} (label http) is already reserved by another allocation on 1 node`);
      await expect(second).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_PLACEMENT_FAILED'));
      const jobs = await fetch(`${agent.address}/v1/jobs`).then((r) => r.json() as Promise<Array<{ ID: string }>>);
      expect(jobs.map((j) => j.ID)).toEqual([(holder as unknown as { jobId: string }).jobId]);
    });

    it('reports a task that fails to start with its driver failure event', async () => {
      const { nomad } = booted;
      const broken: Driver = {
        name: 'process',
        detect: async () => ({ available: true }),
        plan: async () => ({ kind: 'exec', driver: 'process', argv: ['/nonexistent/hpc-sandbox-server'], env: {}, processGroup: true }),
      };
      await using placement = await nomad.place({ driver: broken, spec: SPEC, ports: { mode: 'dynamic' }, name: 'broken' });
      await expect(placement.waitUntilHealthy({ timeoutMs: 30_000 })).rejects.toThrowError(
        /ended before it became healthy: allocation \w+ failed: .+\nlast lines of stderr:\n[\s\S]*\/nonexistent\/hpc-sandbox-server/,
      );
      const { stderr } = await placement.logs();
      expect(stderr).toContain('/nonexistent/hpc-sandbox-server');
    });
  });

  it('a dev agent that shuts down takes its raw_exec sandboxes with it', async () => {
    const agent = await startLocalAgent({ driver: 'process', env: doubleEnv });
    try {
      await using nomad = new NomadScheduler({ address: agent.address });
      const placement = await nomad.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' }, name: 'orphan' });
      await placement.waitUntilHealthy();
      expect(await processesMentioning(agent.dataDir)).not.toEqual([]);
      await agent.stop();
      expect((await placement.exited).reason).toMatch(/complete|lost contact/);
    } finally {
      await agent.stop();
    }
    expect(await processesMentioning(agent.dataDir)).toEqual([]);
  });

  it('a second interrupt during shutdown (Ctrl-C reaches agent and parent) still ends its sandboxes', async () => {
    const agent = await startLocalAgent({ driver: 'process', env: doubleEnv });
    try {
      await using nomad = new NomadScheduler({ address: agent.address });
      const placement = await nomad.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' }, name: 'twice' });
      await placement.waitUntilHealthy();
      process.kill(agent.pid, 'SIGINT');
      process.kill(agent.pid, 'SIGINT');
      await agent.stop();
      expect(await processesMentioning(agent.dataDir)).toEqual([]);
      expect((await placement.exited).reason).toMatch(/complete|lost contact/);
    } finally {
      await agent.stop();
      for (const pid of await processesMentioning(agent.dataDir)) process.kill(pid, 'SIGKILL');
    }
  });

  it('stops and refuses a copy of the double that boots without HPC_SANDBOX_NOMAD_DOUBLE=1 (the version gives it away)', async () => {
    await using wrapperDir = await temporaryDirectory('hpc-sandbox-double-copy-');
    const wrapper = join(wrapperDir.path, 'nomad');
    await writeFile(wrapper, `#!/bin/sh\nexec "${join(nomadDoubleBinDir(), 'nomad')}" "$@"\n`, { mode: 0o755 });
    const env = { ...process.env };
    delete env.HPC_SANDBOX_NOMAD_DOUBLE;
    const agentDirs = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('hpc-sandbox-nomad-')).sort();
    const before = await agentDirs();
    await expect(startLocalAgent({ driver: 'process', env, nomadBinary: wrapper, startupTimeoutMs: 30_000 })).rejects.toThrowError(
      `Refusing to boot ${wrapper}: it is the hpc-sandbox Nomad TEST DOUBLE`,
    );
    expect(await agentDirs()).toEqual(before);
    expect(await processesMentioning(wrapper)).toEqual([]);
  });

  describe('an agent whose docker daemon is unreachable', () => {
    it('refuses to boot for a docker leg with the reason Nomad gives', async () => {
      const config = join(process.cwd(), 'fixtures', 'nomad', 'docker-unreachable.hcl');
      const starting = startLocalAgent({ driver: 'docker', env: doubleEnv, config, startupTimeoutMs: 30_000 });
      await expect(starting).rejects.toThrowError(/docker driver is not available: .*detected=false, healthy=false, "Failed to connect to docker daemon"/);
    });
  });

  describe('an agent without raw_exec', () => {
    it('refuses to boot for a raw_exec leg and says raw_exec is disabled', async () => {
      const config = join(process.cwd(), 'fixtures', 'nomad', 'raw-exec-disabled.hcl');
      const starting = startLocalAgent({ driver: 'process', env: doubleEnv, config, startupTimeoutMs: 30_000 });
      await expect(starting).rejects.toThrowError(/raw_exec driver is not available: .*detected=false, healthy=false, "disabled"/);
    });

    it('fails a raw_exec placement with "missing drivers" when the agent has no raw_exec', async () => {
      const config = join(process.cwd(), 'fixtures', 'nomad', 'raw-exec-disabled.hcl');
      // Up with a leader and a ready node, not waiting for any driver: raw_exec never comes.
      await using agent = await startLocalAgent({ driver: 'process', env: doubleEnv, config, waitForDriver: false, startupTimeoutMs: 30_000 });
      await using nomad = new NomadScheduler({ address: agent.address });
      const placing = nomad.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' }, name: 'nodriver' });
      await expect(placing).rejects.toThrowError('no node has the raw_exec driver detected and healthy (1 node filtered: "missing drivers")');
    });
  });
});
