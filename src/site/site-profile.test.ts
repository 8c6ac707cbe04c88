import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { projectRoot } from '../common/paths.js';
import { describeSource, resolveNomadSettings, resolveSlurmSettings, settingRows } from './effective-settings.js';
import { findSiteProfile, loadSiteProfile } from './site-profile.js';

const dirs: string[] = [];
async function profileFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hpcsb-profile-'));
  dirs.push(dir);
  const file = join(dir, 'hpc-sandbox.site.yaml');
  await writeFile(file, text);
  return file;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('site profiles', () => {
  it('loads the shipped examples, resolving relative paths against the profile folder', async () => {
    const nomad = await loadSiteProfile(join(projectRoot(), 'fixtures/profiles/nomad-acl-tls.site.yaml'));
    expect(nomad.profile.nomad?.tls?.caFile).toBe(join(projectRoot(), 'fixtures/profiles/tls/nomad-ca.pem'));
    expect(nomad.profile.nomad?.datacenters).toEqual(['hpc-east']);
    const slurm = await loadSiteProfile(join(projectRoot(), 'fixtures/profiles/slurm-apptainer.site.yaml'));
    expect(slurm.profile.slurm).toMatchObject({ account: 'lab-ai', qos: 'normal', partition: 'debug' });
  });

  it('rejects an unknown key with the file and the path of the key', async () => {
    const file = await profileFile('nomad:\n  adress: http://x:4646\n');
    await expect(loadSiteProfile(file)).rejects.toThrow(`The site profile ${file} is invalid:\n✖ Unrecognized key: "adress"\n  → at nomad`);
  });

  it('finds hpc-sandbox.site.yaml in the working directory, and none when it is absent', async () => {
    const file = await profileFile('nomad: { namespace: a }\n');
    expect((await findSiteProfile({}, join(file, '..')))?.profile.nomad?.namespace).toBe('a');
    expect(await findSiteProfile({}, tmpdir() + '/does-not-exist')).toBeUndefined();
  });

  it('takes flag over environment over profile over default, and says where each setting came from', async () => {
    const file = await profileFile('nomad:\n  address: https://profile:4646\n  namespace: prof-ns\n  region: prof-r\n  tls: { caFile: ca.pem, skipVerify: false }\n');
    const profile = await loadSiteProfile(file);
    const settings = await resolveNomadSettings({
      flags: { namespace: 'flag-ns' },
      env: { NOMAD_NAMESPACE: 'env-ns', NOMAD_REGION: 'env-r', NOMAD_CACERT: '/env/ca.pem', NOMAD_SKIP_VERIFY: 'true', NOMAD_TOKEN: '' },
      profile,
    });
    expect(settings.namespace).toEqual({ value: 'flag-ns', source: { kind: 'flag', name: '--nomad-namespace' } });
    expect(settings.region).toEqual({ value: 'env-r', source: { kind: 'environment', name: 'NOMAD_REGION' } });
    expect(settings.address).toEqual({ value: 'https://profile:4646', source: { kind: 'profile', path: file } });
    expect(settings.caFile.value).toBe('/env/ca.pem');
    expect(settings.skipVerify.value).toBe(true);
    // An empty NOMAD_TOKEN is unset, as for the Nomad CLI.
    expect(settings.token).toEqual({ value: undefined, source: { kind: 'default' } });
    expect(describeSource(settings.datacenters.source)).toBe('default');
    expect(settingRows('nomad', settings).find((row) => row.name === 'nomad.address')).toEqual({ name: 'nomad.address', value: 'https://profile:4646', source: `profile ${file}` });
  });

  it('reads the token file but never shows the token', async () => {
    const file = await profileFile('nomad:\n  tokenFile: token.txt\n');
    await writeFile(join(file, '..', 'token.txt'), 'secret-token\n');
    const settings = await resolveNomadSettings({ env: {}, profile: await loadSiteProfile(file) });
    expect(settings.token.value).toBe('secret-token');
    expect(settingRows('nomad', settings).find((row) => row.name === 'nomad.token')?.value).toBe('(set, hidden)');
  });

  it('refuses a NOMAD_SKIP_VERIFY that is not a boolean', async () => {
    await expect(resolveNomadSettings({ env: { NOMAD_SKIP_VERIFY: 'maybe' } })).rejects.toThrow('NOMAD_SKIP_VERIFY=maybe is not a boolean (use true or false)');
  });

  it('layers the Slurm variables over the profile', async () => {
    const profile = await loadSiteProfile(await profileFile('slurm: { partition: p, account: a, qos: q }\n'));
    const settings = resolveSlurmSettings({ env: { HPC_SANDBOX_SLURM_QOS: 'env-q' }, profile });
    expect([settings.partition.value, settings.account.value, settings.qos.value, describeSource(settings.qos.source)]).toEqual(['p', 'a', 'env-q', 'environment HPC_SANDBOX_SLURM_QOS']);
  });
});

describe('siteSettingRows (doctor)', () => {
  it('shows each effective setting with where it came from, the token hidden', async () => {
    const { siteSettingRows } = await import('./site-doctor-rows.js');
    const file = await profileFile('nomad:\n  address: https://n:4646\n  tokenFile: missing.token\nslurm: { account: lab }\n');
    const rows = await siteSettingRows({ HPC_SANDBOX_PROFILE: file, NOMAD_TOKEN: 'secret', NOMAD_NAMESPACE: 'ops' });
    const summary = (name: string) => rows.find((row) => row.name === name)?.summary;
    expect(summary('profile')).toBe(file);
    expect(summary('nomad.address')).toBe(`https://n:4646  [profile ${file}]`);
    expect(summary('nomad.token')).toBe('(set, hidden)  [environment NOMAD_TOKEN]');
    expect(summary('nomad.namespace')).toBe('ops  [environment NOMAD_NAMESPACE]');
    expect(summary('slurm.account')).toBe(`lab  [profile ${file}]`);
    expect(summary('slurm.qos')).toBe('(unset)  [default]');
    expect(JSON.stringify(rows)).not.toContain('secret');
  });

  it('is one missing row with the reason when the profile does not load', async () => {
    const { siteSettingRows } = await import('./site-doctor-rows.js');
    const file = await profileFile('nomad:\n  tokenFile: missing.token\n');
    expect(await siteSettingRows({ HPC_SANDBOX_PROFILE: file })).toEqual([
      { area: 'site', name: 'profile', status: 'missing', summary: `Cannot read the Nomad token file ${join(file, '..', 'missing.token')} named by ${file}: ENOENT` },
    ]);
  });
});
