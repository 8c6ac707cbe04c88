import { tail, type ExecResult } from '../../common/exec.js';
import { SandboxError, type SandboxErrorCode } from '../../errors.js';

/** What went wrong with a Slurm command, as read from its stderr. */
export type SlurmErrorKind =
  | 'invalid-partition'
  | 'invalid-job-id'
  | 'job-already-done'
  | 'invalid-time-limit'
  | 'policy-violation'
  | 'controller-unreachable'
  | 'command-unavailable'
  | 'timed-out'
  | 'unknown';

interface Rule {
  kind: SlurmErrorKind;
  pattern: RegExp;
  code: SandboxErrorCode;
  /** What to do about it, appended to the message. */
  remedy: string;
}

/**
 * The one table that reads Slurm's stderr. Patterns match the lines Slurm 22.05 prints (kept as
 * fixtures in slurm-errors.test.ts); the first match wins.
 */
const RULES: readonly Rule[] = [
  {
    kind: 'invalid-partition',
    pattern: /invalid partition (?:name )?specified/i,
    code: 'HPCSB_CONFIG_INVALID',
    remedy: 'name a partition `sinfo -s` lists (option `partition`), or leave it unset for the default partition',
  },
  {
    kind: 'invalid-time-limit',
    pattern: /invalid time limit specification|Requested time limit is invalid|time limit.*exceeds|PartitionTimeLimit/i,
    code: 'HPCSB_CONFIG_INVALID',
    remedy: 'use a `timeLimit` Slurm accepts (`MM`, `HH:MM:SS`, `D-HH`) within the partition MaxTime',
  },
  {
    kind: 'policy-violation',
    pattern: /violates accounting\/QOS policy|Invalid account|Invalid qos/i,
    code: 'HPCSB_CONFIG_INVALID',
    remedy: 'check the account and QOS the cluster expects (`sacctmgr show assoc user=$USER`)',
  },
  {
    kind: 'invalid-job-id',
    pattern: /Invalid job id specified/i,
    code: 'HPCSB_PLACEMENT_LOST',
    remedy: 'the job ended and was purged (MinJobAge), or it never existed',
  },
  {
    kind: 'job-already-done',
    pattern: /Job\/step already completing or completed|already completing or completed/i,
    code: 'HPCSB_PLACEMENT_LOST',
    remedy: 'the job has already ended',
  },
  {
    kind: 'controller-unreachable',
    pattern: /Unable to contact slurm controller|Unable to establish controller|Connection refused|Zero Bytes were transmitted|Communication connection failure|Socket timed out|Unable to (?:create|connect).*munge|Munge encode failed/i,
    code: 'HPCSB_SCHEDULER_UNAVAILABLE',
    remedy: 'start slurmctld (and munged), e.g. `sudo scripts/slurm/start-one-node.sh`, or check SLURM_CONF',
  },
  {
    kind: 'command-unavailable',
    pattern: /ENOENT|command not found|not found in PATH|spawn .* ENOENT|Command could not be started/i,
    code: 'HPCSB_SCHEDULER_UNAVAILABLE',
    remedy: 'install the Slurm client commands (Debian: `apt-get install slurm-client` or `slurm-wlm`)',
  },
];

/** A Slurm command failed; `kind` says how, `stderr` keeps Slurm's own words. */
export class SlurmCommandError extends SandboxError {
  constructor(
    readonly kind: SlurmErrorKind,
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly stderr: string,
    code: SandboxErrorCode,
    remedy: string | undefined,
    options?: { cause?: unknown },
  ) {
    const evidence = tail(stderr, 5) || `exit code ${String(exitCode)}, no stderr`;
    super(code, `Slurm command failed (${kind}): ${command}\n${evidence}${remedy ? `\n${remedy}` : ''}`, options);
  }
}

/** The kind of failure `stderr` describes (`unknown` when no rule matches). */
export function classifySlurmStderr(stderr: string): SlurmErrorKind {
  return RULES.find((rule) => rule.pattern.test(stderr))?.kind ?? 'unknown';
}

/** The typed error for a failed Slurm command result. */
export function slurmError(result: ExecResult): SlurmCommandError {
  if (result.timedOut) {
    return new SlurmCommandError('timed-out', result.command, result.exitCode, result.stderr, 'HPCSB_SCHEDULER_UNAVAILABLE', 'slurmctld did not answer in time');
  }
  const text = result.stderr || result.stdout;
  const rule = RULES.find((r) => r.pattern.test(text));
  if (!rule && result.exitCode === undefined) {
    const missing = RULES.find((r) => r.kind === 'command-unavailable')!;
    return new SlurmCommandError('command-unavailable', result.command, undefined, text, missing.code, missing.remedy);
  }
  return new SlurmCommandError(rule?.kind ?? 'unknown', result.command, result.exitCode, text, rule?.code ?? 'HPCSB_PLACEMENT_FAILED', rule?.remedy);
}
