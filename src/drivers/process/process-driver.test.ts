import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError } from '../../errors.js';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../golden-spec.js';
import { ProcessDriver } from './process-driver.js';

describe('ProcessDriver', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('plans node on the bundle with a clean environment (golden)', async () => {
    const driver = new ProcessDriver({ nodePath: '/opt/node/bin/node', bundlePath: '/opt/hpc/sandbox-server.mjs' });
    const plan = await driver.plan(GOLDEN_SPEC, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan).toEqual({
      kind: 'exec',
      driver: 'process',
      argv: [
        '/opt/node/bin/node',
        '/opt/hpc/sandbox-server.mjs',
        '--host', '{{bindHost}}',
        '--port', '{{port}}',
        '--slots', '2',
        '--data-dir', '{{dataDir}}',
        '--isolation', 'auto',
        '--pass-env', 'MODE', '--pass-env', 'SELF_URL', '--pass-env', 'HF_TOKEN', '--pass-env', 'NOT_SET_ON_HOST',
      ],
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: '{{dataDir}}',
        LANG: 'C.UTF-8',
        HF_TOKEN: 'hf_123',
        MODE: 'golden',
        SELF_URL: 'http://{{bindHost}}:{{port}}',
        HPC_SANDBOX_TOKEN: 't0ken',
      },
      processGroup: true,
    });
    expect(JSON.stringify(plan)).not.toContain(LEAK_MARKER);
  });

  it('lets an allowlisted PATH from the host replace the default', async () => {
    const driver = new ProcessDriver({ nodePath: '/n', bundlePath: '/b' });
    const plan = await driver.plan({ ...GOLDEN_SPEC, envAllowlist: ['PATH'], env: {}, token: undefined }, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan.env).toEqual({ PATH: '/host/bin:/host/sbin', HOME: '{{dataDir}}', LANG: 'C.UTF-8' });
  });

  it('rejects a variable name that is not one', async () => {
    const driver = new ProcessDriver({ nodePath: '/n', bundlePath: '/b' });
    const planning = driver.plan({ ...GOLDEN_SPEC, env: { 'BAD-NAME': 'x' } }, { hostEnv: {} });
    await expect(planning).rejects.toThrowError('Expected every name in the sandbox `env` to be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got `BAD-NAME`');
    await expect(planning).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
  });

  it('detects a missing bundle, and a present one with this node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-process-'));
    dirs.push(dir);
    const bundle = join(dir, 'sandbox-server.mjs');
    expect(await new ProcessDriver({ bundlePath: bundle }).detect()).toEqual({
      available: false,
      reason: `process: server bundle missing at ${bundle} (run npm run build)`,
      details: { node: process.execPath, bundle },
    });
    await writeFile(bundle, '// bundle\n');
    expect(await new ProcessDriver({ bundlePath: bundle }).detect()).toMatchObject({ available: true, version: `node ${process.version}` });
  });
});
