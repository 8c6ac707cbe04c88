import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSiteDouble, type SiteDouble } from '../../fixtures/nomad-double/site-double.js';
import { SandboxClient } from '../client/index.js';
import { getDriver } from '../drivers/index.js';
import { NomadClient } from '../schedulers/nomad/client.js';
import { NomadScheduler } from '../schedulers/nomad/scheduler.js';
import { nomadOptionsForRun } from './scheduler-options.js';
import { PROFILE_ENV } from './site-profile.js';
import { projectRoot } from '../common/paths.js';

// Against the Nomad TEST DOUBLE run as a site would run Nomad (fixtures/nomad-double/site-double.ts):
// mutual TLS with a CA made by openssl here, ACLs, namespace "research", datacenter "hpc-east".
describe('a site profile for a Nomad cluster with ACLs, a namespace, a non-default datacenter and mutual TLS (test double)', () => {
  let site: SiteDouble;
  beforeAll(async () => {
    site = await startSiteDouble();
  }, 60_000);
  afterAll(async () => {
    await site?.stop();
  });

  async function profile(overrides: { token?: string; namespace?: string; datacenter?: string; caFile?: string; constraint?: string } = {}): Promise<string> {
    const file = join(site.dir, `profile-${Math.random().toString(36).slice(2)}.site.yaml`);
    await writeFile(join(site.dir, 'nomad.token'), `${overrides.token ?? site.researchToken}\n`);
    await writeFile(
      file,
      [
        'nomad:',
        `  address: ${site.address}`,
        '  tokenFile: nomad.token',
        `  namespace: ${overrides.namespace ?? 'research'}`,
        `  datacenters: [${overrides.datacenter ?? 'hpc-east'}]`,
        '  tls:',
        `    caFile: ${overrides.caFile ?? site.caFile}`,
        `    certFile: ${site.certFile}`,
        `    keyFile: ${site.keyFile}`,
        '    serverName: server.global.nomad',
        '  constraints:',
        `    - { attribute: '\${meta.rack}', operator: '=', value: ${overrides.constraint ?? 'a'} }`,
        '',
      ].join('\n'),
    );
    return file;
  }

  async function schedulerFor(file: string): Promise<NomadScheduler> {
    return new NomadScheduler((await nomadOptionsForRun({ PATH: process.env.PATH, [PROFILE_ENV]: file })).options);
  }

  async function placeProcessSandbox(file: string, whileRunning?: () => Promise<void>): Promise<unknown> {
    const nomad = await schedulerFor(file);
    try {
      await using placement = await nomad.place({ driver: getDriver('process'), spec: { slots: 1, envAllowlist: [], env: {}, isolation: 'off' }, ports: { mode: 'dynamic' }, name: 'site' });
      await placement.waitUntilHealthy({ timeoutMs: 60_000 });
      await using client = new SandboxClient(placement.url, { token: placement.token });
      await whileRunning?.();
      return (await client.bash('slot_0', 'echo site-ok')).output;
    } catch (error) {
      return error;
    } finally {
      await nomad.close();
    }
  }

  it('places a sandbox over mutual TLS with the scoped token, in the namespace and datacenter, with the run label in Meta', async () => {
    const file = await profile();
    await using client = new NomadClient({ address: site.address, token: site.managementToken, namespace: '*', tls: { caFile: site.caFile, certFile: site.certFile, keyFile: site.keyFile } });
    let jobs: Awaited<ReturnType<NomadClient['jobs']>> = [];
    expect(await placeProcessSandbox(file, async () => void (jobs = await client.jobs()))).toContain('site-ok');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ Namespace: 'research', Meta: { hpc_sandbox_run_pid: String(process.pid), hpc_sandbox_driver: 'process' } });
  }, 120_000);

  it('runs the readiness suite green on nomad x process through the profile (built CLI)', async () => {
    const file = await profile();
    const { execFile } = await import('node:child_process');
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [join(projectRoot(), 'dist/cli/main.js'), 'check', '--profile', file, '--scheduler', 'nomad', '--driver', 'process', '--require', 'nomad:process', '--json'],
        { env: { ...process.env, NOMAD_ADDR: '', NOMAD_TOKEN: '', HPC_SANDBOX_REQUIRE: '' }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    const report = JSON.parse(result.stdout) as { legs: Array<{ name: string; state: string; double: boolean; checks: Array<{ check: string; state: string }> }> };
    expect(report.legs.map((leg) => [leg.name, leg.state, leg.double])).toEqual([['nomad x process', 'passed', true]]);
    const checks = report.legs[0]!.checks;
    expect(checks.length).toBeGreaterThanOrEqual(5);
    expect(checks.filter((check) => check.state !== 'passed' && check.state !== 'skipped')).toEqual([]);
    expect(checks.map((check) => check.check)).toEqual(expect.arrayContaining(['port-binding', 'bash', 'files', 'isolation']));
  }, 300_000);

  it('says in one sentence that an unknown token was refused', async () => {
    const error = await placeProcessSandbox(await profile({ token: 'not-a-token' }));
    expect((error as Error).message).toMatch(
      /^Nomad refused the ACL token \(NOMAD_TOKEN or the profile's token\): it is unknown to the cluster \(Nomad: HTTP 403 "ACL token not found" for POST https:\/\/127\.0\.0\.1:\d+\/v1\/validate\/job\)$/,
    );
  });

  it('says in one sentence that the token may not use another namespace, and that an unknown namespace does not exist', async () => {
    const denied = await placeProcessSandbox(await profile({ namespace: 'default' }));
    expect((denied as Error).message).toMatch(/^Nomad refused the ACL token \(NOMAD_TOKEN or the profile's token\): it has no policy allowing this in namespace "default" \(Nomad: HTTP 403 "Permission denied" for POST /);
    const unknown = await placeProcessSandbox(await profile({ token: site.managementToken, namespace: 'nosuch' }));
    expect((unknown as Error).message).toMatch(
      /^Nomad has no namespace "nosuch" \(set by the site profile, --nomad-namespace or NOMAD_NAMESPACE\): create it with `nomad namespace apply nosuch` or name one `nomad namespace list` shows \(Nomad: HTTP 500 "nonexistent namespace "nosuch"" for POST /,
    );
  });

  it('says in one sentence that no node is in the datacenter asked for, and which constraint filtered the node', async () => {
    const dc = await placeProcessSandbox(await profile({ datacenter: 'hpc-west' }));
    expect((dc as Error).message).toMatch(/^Nomad could not run job site-[0-9a-f]{8}: task group "sandbox" was not placed: no ready node to evaluate \(nodes available per datacenter: hpc-west: 0\)/);
    const constraint = await placeProcessSandbox(await profile({ constraint: 'b' }));
    expect((constraint as Error).message).toMatch(/^Nomad could not run job site-[0-9a-f]{8}: task group "sandbox" was not placed: constraint "\$\{meta\.rack\} = b" filtered 1 node/);
  });

  it('says in one sentence that the CA file does not verify the agent, and that mutual TLS needs a client certificate', async () => {
    const wrongCa = await placeProcessSandbox(await profile({ caFile: site.otherCaFile }));
    expect((wrongCa as Error).message).toBe(`Nomad at ${site.address} presented a certificate that the CA file ${site.otherCaFile} does not verify (SELF_SIGNED_CERT_IN_CHAIN)`);
    await using noCert = new NomadClient({ address: site.address, token: site.managementToken, tls: { caFile: site.caFile } });
    await expect(noCert.agentSelf()).rejects.toThrow(
      /^Nomad at https:\/\/127\.0\.0\.1:\d+ closed the TLS connection, as an agent that requires client certificates \(verify_https_client\) does when none is sent: set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY, or tls\.certFile and tls\.keyFile \(/,
    );
  });
});
