import { exec } from '../common/exec.js';
import { fromNomadMeta, fromSlurmComment, whyRunIsDead, type RunLabel } from '../common/run-label.js';
import { which } from '../common/which.js';
import { RUN_HOST_LABEL, RUN_PID_LABEL, RUN_STARTED_LABEL, SESSION_ID_LABEL } from '../drivers/labels.js';
import { ConfigError } from '../errors.js';
import { dockerClient } from '../schedulers/local/container-runner.js';
import { NomadClient } from '../schedulers/nomad/client.js';
import { nomadOptionsForRun } from '../site/scheduler-options.js';
import { findSiteProfile } from '../site/site-profile.js';

/** One thing a dead run left: what it is, where, and why its run counts as dead. */
export interface Leftover {
  scheduler: 'local' | 'slurm' | 'nomad';
  kind: 'container' | 'slurm job' | 'nomad job';
  id: string;
  runId: string;
  why: string;
  /** Set once removal was tried: undefined on success, else the error. */
  removeError?: string;
}

export interface SweepOptions {
  env: NodeJS.ProcessEnv;
  /** Runs older than this count as dead whatever their pid. */
  olderThanMs?: number;
  /** List only. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** `30s`, `15m`, `2h`, `1d` -> milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) throw new ConfigError(`--older-than ${text} is not a duration: use a number and a unit, e.g. 90s, 30m, 2h, 1d`);
  return Number(match[1]) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
}

/**
 * The schedulers to sweep: those the site profile names (or has a section for), else the ones
 * this host can reach: local containers always, Slurm when squeue is on PATH, Nomad when an
 * address is set (NOMAD_ADDR or the profile).
 */
export async function schedulersToSweep(env: NodeJS.ProcessEnv): Promise<Array<'local' | 'slurm' | 'nomad'>> {
  const profile = await findSiteProfile(env);
  const named = profile?.profile.schedulers;
  if (named) return [...new Set(named)];
  const found: Array<'local' | 'slurm' | 'nomad'> = ['local'];
  if (profile?.profile.slurm || (await which('squeue', env))) found.push('slurm');
  if (profile?.profile.nomad || env.NOMAD_ADDR) found.push('nomad');
  return found;
}

/** Finds what dead runs left on every scheduler to sweep and (unless dryRun) stops and removes it. */
export async function sweepLeftovers(options: SweepOptions): Promise<{ leftovers: Leftover[]; skipped: string[] }> {
  const leftovers: Leftover[] = [];
  const skipped: string[] = [];
  for (const scheduler of await schedulersToSweep(options.env)) {
    try {
      if (scheduler === 'local') leftovers.push(...(await sweepContainers(options)));
      if (scheduler === 'slurm') leftovers.push(...(await sweepSlurmJobs(options)));
      if (scheduler === 'nomad') leftovers.push(...(await sweepNomadJobs(options)));
    } catch (error) {
      skipped.push(`${scheduler}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  return { leftovers, skipped };
}

function judge(label: RunLabel | undefined, options: SweepOptions): string | undefined {
  return label ? whyRunIsDead(label, { ...(options.olderThanMs !== undefined ? { olderThanMs: options.olderThanMs } : {}) }) : undefined;
}

async function sweepContainers(options: SweepOptions): Promise<Leftover[]> {
  const docker = await dockerClient();
  const found = await docker.listContainers({ all: true, filters: { label: [RUN_PID_LABEL] } });
  const out: Leftover[] = [];
  for (const container of found) {
    const labels = container.Labels ?? {};
    const label = labelFromContainer(labels);
    const why = judge(label, options);
    if (!label || !why) continue;
    const leftover: Leftover = { scheduler: 'local', kind: 'container', id: container.Names?.[0]?.replace(/^\//, '') ?? container.Id.slice(0, 12), runId: label.runId, why };
    if (!options.dryRun) {
      await docker
        .getContainer(container.Id)
        .remove({ force: true, v: true })
        .catch((error: { statusCode?: number; message: string }) => {
          if (error.statusCode !== 404 && error.statusCode !== 409) leftover.removeError = error.message;
        });
    }
    out.push(leftover);
  }
  return out;
}

function labelFromContainer(labels: Record<string, string>): RunLabel | undefined {
  const pid = Number(labels[RUN_PID_LABEL]);
  const startedAtMs = Number(labels[RUN_STARTED_LABEL]);
  const runId = labels[SESSION_ID_LABEL];
  const host = labels[RUN_HOST_LABEL];
  if (!runId || !host || !Number.isInteger(pid) || !Number.isFinite(startedAtMs)) return undefined;
  return { runId, host, pid, startedAtMs };
}

async function sweepSlurmJobs(options: SweepOptions): Promise<Leftover[]> {
  // %i job id, %k comment; pending and running jobs of every user this account may see.
  const listed = await exec('squeue', ['-h', '-t', 'PENDING,RUNNING,CONFIGURING,SUSPENDED', '-o', '%i|%k'], { signal: options.signal, timeoutMs: 30_000 });
  if (listed.exitCode !== 0) throw new Error(`squeue failed: ${listed.stderr.trim() || `exit ${listed.exitCode}`}`);
  const out: Leftover[] = [];
  for (const line of listed.stdout.split('\n')) {
    const [id, comment] = line.split('|', 2);
    if (!id) continue;
    const label = fromSlurmComment(comment?.trim());
    const why = judge(label, options);
    if (!label || !why) continue;
    const leftover: Leftover = { scheduler: 'slurm', kind: 'slurm job', id: id.trim(), runId: label.runId, why };
    if (!options.dryRun) {
      const cancelled = await exec('scancel', [id.trim()], { signal: options.signal, timeoutMs: 30_000 });
      if (cancelled.exitCode !== 0 && !/already completing or completed|Invalid job id/i.test(cancelled.stderr)) leftover.removeError = cancelled.stderr.trim();
    }
    out.push(leftover);
  }
  return out;
}

async function sweepNomadJobs(options: SweepOptions): Promise<Leftover[]> {
  const { options: nomad } = await nomadOptionsForRun(options.env);
  await using client = new NomadClient(nomad);
  const out: Leftover[] = [];
  for (const job of await client.jobs({ signal: options.signal })) {
    if (job.Stop || job.Status === 'dead') continue;
    const label = fromNomadMeta(job.Meta);
    const why = judge(label, options);
    if (!label || !why) continue;
    const leftover: Leftover = { scheduler: 'nomad', kind: 'nomad job', id: job.ID, runId: label.runId, why };
    if (!options.dryRun) {
      await client.deregisterJob(job.ID, { purge: true, signal: options.signal }).catch((error: Error) => {
        leftover.removeError = error.message;
      });
    }
    out.push(leftover);
  }
  return out;
}
