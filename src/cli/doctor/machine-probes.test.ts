import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeDockerSocket } from './machine-probes.js';
import { probeNomad } from './run-doctor.js';

describe('probeDockerSocket', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hpcsb-doctor-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names an absent socket and what to do', async () => {
    const row = await probeDockerSocket({ DOCKER_HOST: `unix://${join(dir, 'docker.sock')}` });
    expect(row).toMatchObject({ status: 'missing', summary: `${join(dir, 'docker.sock')}: absent (is dockerd running?)` });
  });

  it('accepts a writable socket path', async () => {
    const path = join(dir, 'writable.sock');
    await writeFile(path, '');
    expect(await probeDockerSocket({ DOCKER_HOST: `unix://${path}` })).toMatchObject({ status: 'ok', summary: `${path} writable` });
  });

  it('does not probe a TCP DOCKER_HOST', async () => {
    expect((await probeDockerSocket({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })).summary).toContain('not probed');
  });
});

describe('probeNomad', () => {
  it('says nomad legs are skipped when no agent answers and nomad is not on PATH', async () => {
    // Port 9 (discard) on loopback stands in for the default address: nothing listens there.
    const row = await probeNomad({ PATH: '/nonexistent' }, AbortSignal.timeout(5_000), 'http://127.0.0.1:9');
    expect(row.status).toBe('missing');
    expect(row.summary).toMatch(/^no agent reachable and nomad not on PATH, so nomad legs are skipped \(nomad: http:\/\/127\.0\.0\.1:9 did not answer: .+\)$/);
  });

  it('reports an unreachable NOMAD_ADDR with the address', async () => {
    // Port 9 (discard) on loopback: nothing listens there on a test machine, the connect is refused at once.
    const row = await probeNomad({ PATH: '/nonexistent', NOMAD_ADDR: 'http://127.0.0.1:9' }, AbortSignal.timeout(5_000));
    expect(row.status).toBe('missing');
    expect(row.summary).toContain('http://127.0.0.1:9');
  });
});
