import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../golden-spec.js';
import { DockerDriver } from './docker-driver.js';

describe('DockerDriver', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanups.splice(0).reverse()) await step();
  });

  /** A Docker Engine double on a unix socket: answers /version and says no image exists. */
  async function fakeEngine(version: object): Promise<{ socket: string; requests: string[] }> {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-docker-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const socket = join(dir, 'docker.sock');
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.url === '/version') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(version));
      else res.writeHead(404).end('{"message":"No such image"}');
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return { socket, requests };
  }

  it('plans a local image with /data bound, port 8080 and bwrap-friendly security options (golden)', async () => {
    const plan = await new DockerDriver({ sessionId: 'session-1' }).plan(GOLDEN_SPEC, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan).toEqual({
      kind: 'container',
      driver: 'docker',
      image: 'hpc-sandbox/sandbox:local',
      command: [
        'node', '/opt/hpc-sandbox/sandbox-server.mjs',
        '--host', '0.0.0.0',
        '--port', '8080',
        '--slots', '2',
        '--data-dir', '/data',
        '--isolation', 'auto',
        '--pass-env', 'MODE', '--pass-env', 'SELF_URL', '--pass-env', 'HF_TOKEN', '--pass-env', 'NOT_SET_ON_HOST',
      ],
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '/tmp',
        LANG: 'C.UTF-8',
        HF_TOKEN: 'hf_123',
        MODE: 'golden',
        SELF_URL: 'http://{{bindHost}}:{{port}}',
        HPC_SANDBOX_TOKEN: 't0ken',
      },
      containerPort: 8080,
      binds: [{ source: '{{dataDir}}', target: '/data' }],
      devices: ['/dev/net/tun'],
      securityOpts: ['seccomp=unconfined', 'systempaths=unconfined'],
      labels: {
        'io.hpc-sandbox.managed': 'true',
        'io.hpc-sandbox.session-id': 'session-1',
        'io.hpc-sandbox.driver': 'docker',
        'io.hpc-sandbox.slots': '2',
      },
    });
    expect(JSON.stringify(plan)).not.toContain(LEAK_MARKER);
  });

  it('keeps the default confinement when asked and runs the image the spec names', async () => {
    const plan = await new DockerDriver({ sessionId: 's' }).plan({ ...GOLDEN_SPEC, unconfined: false, image: 'mine:1' }, { hostEnv: {} });
    expect(plan.securityOpts).toEqual([]);
    expect(plan.image).toBe('mine:1');
  });

  it('detects the engine through its socket, with version and default image state', async () => {
    const { socket, requests } = await fakeEngine({ Version: '20.10.24', ApiVersion: '1.41' });
    const detection = await new DockerDriver({ env: { DOCKER_HOST: `unix://${socket}` } }).detect();
    expect(detection).toEqual({
      available: true,
      version: 'Docker 20.10.24',
      details: {
        endpoint: socket,
        apiVersion: '1.41',
        defaultImage: 'hpc-sandbox/sandbox:local (absent: run hpc-sandbox image build --format docker)',
      },
    });
    expect(requests).toEqual(['GET /version', 'GET /images/hpc-sandbox/sandbox:local/json']);
  });

  it('says plainly why the engine is unreachable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-docker-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const socket = join(dir, 'absent.sock');
    const detection = await new DockerDriver({ env: { DOCKER_HOST: `unix://${socket}` } }).detect();
    expect(detection).toEqual({
      available: false,
      reason: `docker: cannot connect to ${socket} (connect ENOENT ${socket})`,
      details: { endpoint: socket },
    });
  });
});
