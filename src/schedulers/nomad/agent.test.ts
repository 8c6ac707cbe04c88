import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSandboxError } from '../../errors.js';
import { agentConfigFor, renderAgentConfig, startLocalAgent } from './agent.js';
import { nomadDoubleBinDir } from './double.js';

const withoutDoubleFlag = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
  const env = { ...process.env, ...extra };
  delete env.HPC_SANDBOX_NOMAD_DOUBLE;
  return env;
};
const agentTempDirs = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('hpc-sandbox-nomad-')).sort();

describe('startLocalAgent', () => {
  it('refuses the test double (found on PATH or named) unless HPC_SANDBOX_NOMAD_DOUBLE=1, before starting it', async () => {
    const doubleFirst = withoutDoubleFlag({ PATH: `${nomadDoubleBinDir()}${delimiter}${process.env.PATH ?? ''}` });
    const before = await agentTempDirs();
    for (const options of [{ env: doubleFirst }, { env: withoutDoubleFlag(), nomadBinary: join(nomadDoubleBinDir(), 'nomad') }]) {
      const starting = startLocalAgent({ ...options, startupTimeoutMs: 1_000 });
      await expect(starting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
      await expect(starting).rejects.toThrowError(
        `Refusing to boot ${join(nomadDoubleBinDir(), 'nomad')}: it is the hpc-sandbox Nomad TEST DOUBLE (0.0.0-hpc-sandbox-double), not Nomad, and HPC_SANDBOX_NOMAD_DOUBLE=1`,
      );
    }
    expect(await agentTempDirs()).toEqual(before);
  });

  it('names a config it cannot read and the configs under hcl/, leaving no temp dir', async () => {
    const before = await agentTempDirs();
    const starting = startLocalAgent({ nomadBinary: '/bin/true', env: withoutDoubleFlag(), config: 'nomad-podman', startupTimeoutMs: 1_000 });
    await expect(starting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
    await expect(starting).rejects.toThrowError(/^Cannot read the Nomad agent config \S+\/hcl\/nomad-podman\.hcl: ENOENT \(a name resolves under hcl\/: nomad-docker, nomad-singularity; or give a path\)$/);
    expect(await agentTempDirs()).toEqual(before);
  });

  it('says which command could not start, with the reason, and removes its temp dir', async () => {
    const before = await agentTempDirs();
    const starting = startLocalAgent({ nomadBinary: '/nonexistent/hpc-sandbox/nomad', env: withoutDoubleFlag(), startupTimeoutMs: 5_000 });
    await expect(starting).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_SCHEDULER_UNAVAILABLE'));
    await expect(starting).rejects.toThrowError(/^\/nonexistent\/hpc-sandbox\/nomad agent -dev -config \S+ -data-dir \S+ exited \(code null\) before it was ready:\nspawn failed: spawn \/nonexistent\/hpc-sandbox\/nomad ENOENT/);
    expect(await agentTempDirs()).toEqual(before);
  });
});

describe('renderAgentConfig', () => {
  it("binds loopback on the agent's own ports ahead of the hcl/ template", async () => {
    const rendered = await renderAgentConfig(agentConfigFor('raw_exec'), { http: 31001, rpc: 31002, serf: 31003 });
    expect(rendered).toContain('bind_addr = "127.0.0.1"\nports {\n  http = 31001\n  rpc  = 31002\n  serf = 31003\n}\n');
    expect(rendered).toMatch(/plugin "raw_exec" \{\s+config \{\s+enabled = true/);
  });
});
