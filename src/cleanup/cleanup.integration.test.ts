import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSiteDouble, type SiteDouble } from '../../fixtures/nomad-double/site-double.js';
import { describeWith } from '../../test/gate.js';
import { projectRoot } from '../common/paths.js';
import { toNomadMeta, toSlurmComment, type RunLabel } from '../common/run-label.js';
import { runLabels } from '../drivers/labels.js';
import { NomadClient } from '../schedulers/nomad/client.js';

const run = promisify(execFile);
const CLI = join(projectRoot(), 'dist', 'cli', 'main.js');

// Kills `hpc-sandbox check` with SIGKILL mid-run (once per scheduler), then shows that `cleanup`
// stops exactly what the killed runs left: not a container/job without our label, not one of a
// live run. Nomad is the TEST DOUBLE as a site cluster (mutual TLS, ACLs, namespace).
describeWith(['docker', 'slurm'], 'hpc-sandbox cleanup after a SIGKILLed check', () => {
  let site: SiteDouble;
  let profile: string;
  let nomad: NomadClient;
  const tag = randomUUID().slice(0, 8);
  const liveLabel: RunLabel = { runId: `live-${tag}`, host: hostname(), pid: process.pid, startedAtMs: Date.now() };
  const survivors = { containers: [] as string[], slurm: [] as string[], nomad: [] as string[] };

  beforeAll(async () => {
    site = await startSiteDouble();
    await writeFile(join(site.dir, 'nomad.token'), site.managementToken);
    profile = join(site.dir, 'site.yaml');
    await writeFile(
      profile,
      `schedulers: [local, slurm, nomad]\nnomad:\n  address: ${site.address}\n  tokenFile: nomad.token\n  namespace: research\n  datacenters: [hpc-east]\n  tls: { caFile: ca.pem, certFile: cli.pem, keyFile: cli-key.pem, serverName: server.global.nomad }\nslurm: {}\n`,
    );
    nomad = new NomadClient({ address: site.address, token: site.managementToken, namespace: 'research', tls: { caFile: site.caFile, certFile: site.certFile, keyFile: site.keyFile } });
    // Not ours, and ours but of a live run: both must survive.
    for (const [name, labels] of [[`foreign-${tag}`, {}], [`live-${tag}`, runLabels(liveLabel)]] as const) {
      const args = ['run', '-d', '--name', name, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '--entrypoint', 'sleep', 'hpc-sandbox/sandbox:local', '300'];
      survivors.containers.push((await run('docker', args)).stdout.trim());
    }
    for (const comment of [undefined, toSlurmComment(liveLabel)]) {
      const { stdout } = await run('sbatch', ['--parsable', '--output=/dev/null', ...(comment ? [`--comment=${comment}`] : []), '--wrap', 'sleep 300']);
      survivors.slurm.push(stdout.trim());
    }
    for (const [id, meta] of [[`foreign-${tag}`, {}], [`live-${tag}`, toNomadMeta(liveLabel)]] as const) {
      const job = {
        ID: id,
        Meta: meta,
        Datacenters: ['hpc-east'],
        TaskGroups: [{ Name: 'g', Count: 1, Tasks: [{ Name: 't', Driver: 'raw_exec', Config: { command: '/bin/sleep', args: ['300'] } }] }],
      };
      await nomad.registerJob(job);
      survivors.nomad.push(id);
    }
  }, 120_000);

  afterAll(async () => {
    await run('docker', ['rm', '-f', ...survivors.containers]).catch(() => undefined);
    if (survivors.slurm.length) await run('scancel', survivors.slurm).catch(() => undefined);
    await nomad?.close();
    await site?.stop();
  });

  /** Starts `check` on one leg and SIGKILLs it once `started()` sees something it placed. */
  async function killCheckMidway(leg: { scheduler: string; driver: string }, started: () => Promise<boolean>): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'check', '--profile', profile, '--scheduler', leg.scheduler, '--driver', leg.driver], { stdio: 'ignore' });
    const deadline = Date.now() + 90_000;
    try {
      while (!(await started())) {
        if (child.exitCode !== null) throw new Error(`check on ${leg.scheduler} x ${leg.driver} ended (${child.exitCode}) before anything was placed`);
        if (Date.now() > deadline) throw new Error(`check on ${leg.scheduler} x ${leg.driver} placed nothing in 90 s`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
    }
  }

  const ourContainers = async () => (await run('docker', ['ps', '-aq', '--filter', 'label=io.hpc-sandbox.run-pid'])).stdout.split('\n').filter(Boolean);
  const ourSlurmJobs = async () => (await run('squeue', ['-h', '-o', '%i|%k'])).stdout.split('\n').filter((l) => l.includes('|hpc-sandbox-run:')).map((l) => l.split('|')[0]!);
  const ourNomadJobs = async () => (await nomad.jobs()).filter((j) => !j.Stop && j.Meta?.hpc_sandbox_run).map((j) => j.ID);

  it('stops the containers, Slurm jobs and Nomad jobs the killed runs left, and nothing else', async () => {
    await killCheckMidway({ scheduler: 'local', driver: 'docker' }, async () => (await ourContainers()).length > 1);
    await killCheckMidway({ scheduler: 'slurm', driver: 'process' }, async () => (await ourSlurmJobs()).length > 1);
    await killCheckMidway({ scheduler: 'nomad', driver: 'process' }, async () => (await ourNomadJobs()).length > 1);
    const leftBehind = { containers: await ourContainers(), slurm: await ourSlurmJobs(), nomad: await ourNomadJobs() };

    const dry = JSON.parse((await run(process.execPath, [CLI, 'cleanup', '--dry-run', '--json', '--profile', profile])).stdout) as { leftovers: Array<{ kind: string; id: string }>; skipped: string[] };
    expect(dry.skipped).toEqual([]);
    const expected = (kind: string, ids: string[], keep: string[]) => ids.filter((id) => !keep.some((k) => k.startsWith(id) || id.startsWith(k))).map((id) => `${kind} ${id}`);
    const dryIds = dry.leftovers.map((l) => `${l.kind} ${l.id}`).sort();
    expect(dryIds.filter((l) => l.startsWith('slurm job') || l.startsWith('nomad job')).sort()).toEqual(
      [...expected('slurm job', leftBehind.slurm, survivors.slurm), ...expected('nomad job', leftBehind.nomad, survivors.nomad)].sort(),
    );
    expect(dryIds.filter((l) => l.startsWith('container')).length).toBe(leftBehind.containers.length - 1);
    // A dry run stops nothing.
    expect((await ourSlurmJobs()).sort()).toEqual(leftBehind.slurm.sort());

    await run(process.execPath, [CLI, 'cleanup', '--profile', profile]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const liveContainer = survivors.containers[1]!;
    expect((await ourContainers()).map((id) => id.slice(0, 12))).toEqual([liveContainer.slice(0, 12)]);
    expect((await ourSlurmJobs()).sort()).toEqual([survivors.slurm[1]]);
    expect(await ourNomadJobs()).toEqual([`live-${tag}`]);
    // The unlabelled ones are untouched too.
    expect((await run('docker', ['inspect', '-f', '{{.State.Running}}', survivors.containers[0]!])).stdout.trim()).toBe('true');
    expect((await run('squeue', ['-h', '-j', survivors.slurm[0]!, '-o', '%T'])).stdout.trim()).toMatch(/RUNNING|PENDING/);
    expect((await nomad.jobs()).find((j) => j.ID === `foreign-${tag}`)?.Stop).toBe(false);
  }, 400_000);
});
