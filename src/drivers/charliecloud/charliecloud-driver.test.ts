import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSandboxError } from '../../errors.js';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../golden-spec.js';
import { CharliecloudDriver } from './charliecloud-driver.js';

describe('CharliecloudDriver', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('plans ch-run with a wiped environment, /data bound and a process group (golden)', async () => {
    const plan = await new CharliecloudDriver().plan({ ...GOLDEN_SPEC, image: '/images/sandbox.sqfs' }, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan).toEqual({
      kind: 'exec',
      driver: 'charliecloud',
      argv: [
        'ch-run',
        '--env-no-expand',
        '--unset-env=*',
        '--set-env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        '--set-env=HOME=/tmp',
        '--set-env=LANG=C.UTF-8',
        '--set-env=HF_TOKEN=hf_123',
        '--set-env=MODE=golden',
        '--set-env=SELF_URL=http://{{bindHost}}:{{port}}',
        '--set-env=HPC_SANDBOX_TOKEN=t0ken',
        '-t',
        '-b', '{{dataDir}}:/data',
        '-c', '/data',
        '/images/sandbox.sqfs',
        '--',
        'node', '/opt/hpc-sandbox/sandbox-server.mjs',
        '--host', '{{bindHost}}',
        '--port', '{{port}}',
        '--slots', '2',
        '--data-dir', '/data',
        '--isolation', 'auto',
        '--pass-env', 'MODE', '--pass-env', 'SELF_URL', '--pass-env', 'HF_TOKEN', '--pass-env', 'NOT_SET_ON_HOST',
      ],
      env: { PATH: '/host/bin:/host/sbin', USER: 'alice', LANG: 'C.UTF-8' },
      processGroup: true,
    });
    expect(JSON.stringify(plan)).not.toContain(LEAK_MARKER);
  });

  it('keeps a value wrapped in single quotes intact (ch-run strips one pair)', async () => {
    const plan = await new CharliecloudDriver().plan(
      { slots: 1, envAllowlist: [], env: { Q: "'quoted'", D: '$NOT_EXPANDED:x' }, isolation: 'off', image: '/i.sqfs' },
      { hostEnv: { USER: 'bob' } },
    );
    expect(plan.argv).toContain("--set-env=Q=''quoted''");
    expect(plan.argv).toContain('--set-env=D=$NOT_EXPANDED:x');
  });

  it('always gives the launcher a USER, which ch-run requires', async () => {
    const plan = await new CharliecloudDriver().plan({ ...GOLDEN_SPEC, image: '/i.sqfs' }, { hostEnv: {} });
    expect(plan.env.USER).toMatch(/\S/);
  });

  it('runs the default SquashFS image from the cache when the spec names none', async () => {
    const plan = await new CharliecloudDriver().plan({ ...GOLDEN_SPEC, image: undefined }, { hostEnv: GOLDEN_HOST_ENV });
    expect(plan.argv[plan.argv.indexOf('--') - 1]).toMatch(/\/images\/hpc-sandbox\.sqfs$/);
  });

  it('refuses a directory image without /data', async () => {
    const image = await mkdtemp(join(tmpdir(), 'hpcsb-chimg-'));
    dirs.push(image);
    const planning = new CharliecloudDriver().plan({ ...GOLDEN_SPEC, image }, { hostEnv: GOLDEN_HOST_ENV });
    await expect(planning).rejects.toThrowError(`charliecloud: directory image ${image} has no /data`);
    await expect(planning).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
    await mkdir(join(image, 'data'));
    await expect(new CharliecloudDriver().plan({ ...GOLDEN_SPEC, image }, { hostEnv: GOLDEN_HOST_ENV })).resolves.toMatchObject({ kind: 'exec' });
  });

  it('says why when ch-run is not on PATH', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hpcsb-empty-'));
    dirs.push(empty);
    expect(await new CharliecloudDriver({ env: { PATH: empty } }).detect()).toEqual({
      available: false,
      reason: 'ch-run: not on PATH (apt-get install charliecloud-runtime)',
    });
  });
});
