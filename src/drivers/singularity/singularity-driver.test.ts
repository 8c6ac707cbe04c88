import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../golden-spec.js';
import { SingularityDriver } from './singularity-driver.js';

describe('SingularityDriver', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  /** A folder holding a fake runtime executable that prints `output` (Apptainer is not installable here). */
  async function fakeBin(name: string, script: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-apptainer-'));
    dirs.push(dir);
    await writeFile(join(dir, name), `#!/bin/sh\n${script}\n`);
    await chmod(join(dir, name), 0o755);
    return dir;
  }

  it('plans apptainer exec --containall --cleanenv with APPTAINERENV_ variables (golden)', async () => {
    const plan = await new SingularityDriver().plan({ ...GOLDEN_SPEC, image: '/images/sandbox.sif' }, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan).toEqual({
      kind: 'exec',
      driver: 'singularity',
      argv: [
        'apptainer', 'exec',
        '--containall',
        '--cleanenv',
        '--bind', '{{dataDir}}:/data',
        '--pwd', '/data',
        '/images/sandbox.sif',
        'node', '/opt/hpc-sandbox/sandbox-server.mjs',
        '--host', '{{bindHost}}',
        '--port', '{{port}}',
        '--slots', '2',
        '--data-dir', '/data',
        '--isolation', 'auto',
        '--pass-env', 'MODE', '--pass-env', 'SELF_URL', '--pass-env', 'HF_TOKEN', '--pass-env', 'NOT_SET_ON_HOST',
      ],
      env: {
        PATH: '/host/bin:/host/sbin',
        LANG: 'C.UTF-8',
        HOME: '/home/alice',
        USER: 'alice',
        APPTAINERENV_LANG: 'C.UTF-8',
        APPTAINERENV_HF_TOKEN: 'hf_123',
        APPTAINERENV_MODE: 'golden',
        APPTAINERENV_SELF_URL: 'http://{{bindHost}}:{{port}}',
        APPTAINERENV_HPC_SANDBOX_TOKEN: 't0ken',
      },
      processGroup: true,
    });
    expect(JSON.stringify(plan)).not.toContain(LEAK_MARKER);
  });

  it('falls back to singularity with SINGULARITYENV_ variables when only it is on PATH', async () => {
    const bin = await fakeBin('singularity', 'echo "singularity-ce version 4.1.0"');
    const plan = await new SingularityDriver().plan(
      { slots: 1, envAllowlist: [], env: { A: '1' }, isolation: 'off', image: '/i.sif' },
      { hostEnv: { PATH: bin } },
    );
    expect(plan.argv.slice(0, 2)).toEqual(['singularity', 'exec']);
    expect(plan.env).toEqual({ PATH: bin, LANG: 'C.UTF-8', SINGULARITYENV_LANG: 'C.UTF-8', SINGULARITYENV_A: '1' });
  });

  it('runs the default SIF from the image cache when the spec names no image', async () => {
    const plan = await new SingularityDriver().plan({ ...GOLDEN_SPEC, image: undefined }, { hostEnv: {} });
    expect(plan.argv[8]).toMatch(/\/images\/hpc-sandbox\.sif$/);
  });

  it('refuses to set HOME inside (Apptainer refuses APPTAINERENV_HOME)', async () => {
    await expect(new SingularityDriver().plan({ ...GOLDEN_SPEC, envAllowlist: ['HOME'] }, { hostEnv: GOLDEN_HOST_ENV })).rejects.toThrowError(
      'singularity: cannot set HOME inside the container (Apptainer refuses APPTAINERENV_HOME); remove HOME from the sandbox `env` and `envAllowlist`',
    );
  });

  it('detects a runtime on PATH by its version, and says why when there is none, naming the SIF it would run', async () => {
    const bin = await fakeBin('apptainer', 'echo "apptainer version 1.3.4"');
    const cache = await mkdtemp(join(tmpdir(), 'hpcsb-cache-'));
    dirs.push(cache);
    const sif = join(cache, 'images/hpc-sandbox.sif');
    expect(await new SingularityDriver({ env: { PATH: bin, HPC_SANDBOX_CACHE_DIR: cache } }).detect()).toEqual({
      available: true,
      version: 'apptainer version 1.3.4',
      details: { binary: join(bin, 'apptainer'), image: sif, imageState: 'not built here: hpc-sandbox image build --format sif' },
    });
    const empty = await mkdtemp(join(tmpdir(), 'hpcsb-empty-'));
    dirs.push(empty);
    expect(await new SingularityDriver({ env: { PATH: empty, HPC_SANDBOX_CACHE_DIR: cache } }).detect()).toEqual({
      available: false,
      reason: `apptainer: not on PATH (nor singularity); it would run the SIF ${sif} (not built here: hpc-sandbox image build --format sif)`,
      details: { image: sif, imageState: 'not built here: hpc-sandbox image build --format sif' },
    });
  });

  it('names the built SIF the cache link points at, or the site image it was given, in the skip reason and the plan', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'hpcsb-cache-'));
    dirs.push(cache);
    await mkdir(join(cache, 'images/0123456789abcdef'), { recursive: true });
    await writeFile(join(cache, 'images/0123456789abcdef/sandbox.sif'), Buffer.alloc(3 * 1_048_576));
    await symlink('0123456789abcdef/sandbox.sif', join(cache, 'images/hpc-sandbox.sif'));
    const cached = await new SingularityDriver({ env: { PATH: cache, HPC_SANDBOX_CACHE_DIR: cache } }).detect();
    expect(cached.reason).toBe(`apptainer: not on PATH (nor singularity); it would run the SIF ${join(cache, 'images/hpc-sandbox.sif')} (built: 0123456789abcdef/sandbox.sif, 3 MB)`);

    const site = new SingularityDriver({ env: { PATH: cache, HPC_SANDBOX_CACHE_DIR: cache }, image: join(cache, 'images/0123456789abcdef/sandbox.sif') });
    expect((await site.detect()).details).toEqual({ image: join(cache, 'images/0123456789abcdef/sandbox.sif'), imageState: 'present, 3 MB' });
    expect((await site.plan({ ...GOLDEN_SPEC, image: undefined }, { hostEnv: {} })).argv[8]).toBe(join(cache, 'images/0123456789abcdef/sandbox.sif'));
  });

  it('reports a runtime that fails its version check', async () => {
    const bin = await fakeBin('apptainer', 'echo "FATAL:   config file not found" >&2; exit 255');
    expect(await new SingularityDriver({ env: { PATH: bin } }).detect()).toMatchObject({
      available: false,
      reason: `apptainer: ${join(bin, 'apptainer')} --version failed: FATAL:   config file not found`,
    });
  });
});
