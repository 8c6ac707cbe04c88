import { hostname } from 'node:os';
import { sessionId } from '../drivers/labels.js';

/**
 * Who started a job or container: the run (this process's session id), the host and pid that own
 * it, and when the run started. Every Nomad job (`Meta`), Slurm job (`--comment`) and container
 * (labels) the tool starts carries one, so `hpc-sandbox cleanup` can find what a dead run left.
 */
export interface RunLabel {
  runId: string;
  host: string;
  pid: number;
  /** Milliseconds since the epoch. */
  startedAtMs: number;
}

/** Nomad job Meta keys (Meta keys are free-form strings; `.` is avoided for HCL interpolation). */
export const NOMAD_META = { runId: 'hpc_sandbox_run', host: 'hpc_sandbox_run_host', pid: 'hpc_sandbox_run_pid', startedAt: 'hpc_sandbox_run_started' } as const;

/** Prefix of the Slurm `--comment` that carries a run label. */
export const SLURM_COMMENT_PREFIX = 'hpc-sandbox-run:';

const processStartedAtMs = Date.now() - Math.round(process.uptime() * 1000);

/** This process's run label (run id from `sessionId()`, i.e. `HPC_SANDBOX_SESSION_ID` or a random UUID). */
export function currentRunLabel(env: NodeJS.ProcessEnv = process.env): RunLabel {
  return { runId: sessionId(env), host: hostname(), pid: process.pid, startedAtMs: processStartedAtMs };
}

export function toNomadMeta(label: RunLabel): Record<string, string> {
  return {
    [NOMAD_META.runId]: label.runId,
    [NOMAD_META.host]: label.host,
    [NOMAD_META.pid]: String(label.pid),
    [NOMAD_META.startedAt]: String(label.startedAtMs),
  };
}

export function fromNomadMeta(meta: Record<string, string> | null | undefined): RunLabel | undefined {
  if (!meta?.[NOMAD_META.runId]) return undefined;
  return parseParts(meta[NOMAD_META.runId], meta[NOMAD_META.host], meta[NOMAD_META.pid], meta[NOMAD_META.startedAt]);
}

/** `hpc-sandbox-run:<run id>,<host>,<pid>,<started ms>` (Slurm comments are one free-text field). */
export function toSlurmComment(label: RunLabel): string {
  return `${SLURM_COMMENT_PREFIX}${label.runId},${label.host},${label.pid},${label.startedAtMs}`;
}

export function fromSlurmComment(comment: string | undefined): RunLabel | undefined {
  if (!comment?.startsWith(SLURM_COMMENT_PREFIX)) return undefined;
  const [runId, host, pid, started] = comment.slice(SLURM_COMMENT_PREFIX.length).split(',');
  return parseParts(runId, host, pid, started);
}

function parseParts(runId: string | undefined, host: string | undefined, pid: string | undefined, started: string | undefined): RunLabel | undefined {
  const pidNumber = Number(pid);
  const startedAtMs = Number(started);
  if (!runId || !host || !Number.isInteger(pidNumber) || !Number.isFinite(startedAtMs)) return undefined;
  return { runId, host, pid: pidNumber, startedAtMs };
}

/** Is `pid` a live process on this host? (signal 0: EPERM still means it exists.) */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Why the run that owns `label` is over, or undefined while it may still live. A run is dead when
 * its pid on this host is gone, or (any host) it started longer than `olderThanMs` ago. A run of
 * another host is never judged by pid: its pid means nothing here.
 */
export function whyRunIsDead(
  label: RunLabel,
  options: { nowMs?: number; olderThanMs?: number; host?: string; isAlive?: (pid: number) => boolean; self?: RunLabel } = {},
): string | undefined {
  const self = options.self ?? currentRunLabel();
  if (label.runId === self.runId) return undefined;
  const ageMs = (options.nowMs ?? Date.now()) - label.startedAtMs;
  if (options.olderThanMs !== undefined && ageMs > options.olderThanMs) return `started ${Math.round(ageMs / 1000)} s ago (older than --older-than)`;
  if (label.host === (options.host ?? hostname()) && !(options.isAlive ?? isPidAlive)(label.pid)) return `its process ${label.pid} on ${label.host} is gone`;
  return undefined;
}
