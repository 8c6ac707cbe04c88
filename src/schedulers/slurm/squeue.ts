/** The `squeue -o` format this scheduler reads: state, node list, pending reason. */
export const SQUEUE_FORMAT = '%T|%N|%r';

/** Slurm job states after which nothing of the job runs any more. */
export const TERMINAL_STATES: ReadonlySet<string> = new Set([
  'BOOT_FAIL',
  'CANCELLED',
  'COMPLETED',
  'DEADLINE',
  'FAILED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'REVOKED',
  'SPECIAL_EXIT',
  'TIMEOUT',
]);

/** One job as `squeue -h -j ID -o '%T|%N|%r'` prints it. */
export interface SqueueJob {
  /** `PENDING`, `RUNNING`, `COMPLETING`, `COMPLETED`, `CANCELLED`... */
  state: string;
  /** Node list (compressed, e.g. `node[01-02]`); empty while pending. */
  nodes: string;
  /** Pending or end reason (`None`, `Priority`, `Resources`, `NonZeroExitCode`...). */
  reason: string;
}

/** Parses `squeue -h -o '%T|%N|%r'` output (one job; undefined when empty: the job is gone). */
export function parseSqueueLine(stdout: string): SqueueJob | undefined {
  const line = stdout.split('\n').find((l) => l.trim() !== '');
  if (!line) return undefined;
  const [state = '', nodes = '', ...reason] = line.trim().split('|');
  return { state: state.trim(), nodes: nodes.trim(), reason: reason.join('|').trim() };
}

/** Whether nothing of a job in `state` runs any more (`COMPLETING` still has processes). */
export function isTerminal(state: string): boolean {
  return TERMINAL_STATES.has(state.replace(/\+$/, ''));
}

/** `ExitCode=1:0` of `scontrol show job -o ID`: the exit code and the signal number. */
export function parseScontrolExit(stdout: string): { exitCode: number; signal: number } | undefined {
  const match = /(?:^| )ExitCode=(\d+):(\d+)/.exec(stdout);
  return match ? { exitCode: Number(match[1]), signal: Number(match[2]) } : undefined;
}

/** Job states that will never become RUNNING: placement fails at once. */
export function isHopelessPending(reason: string): boolean {
  return /^(PartitionDown|PartitionInactive|PartitionNodeLimit|PartitionTimeLimit|BadConstraints|InvalidAccount|InvalidQOS|JobLaunchFailure|ReqNodeNotAvail|DependencyNeverSatisfied)/.test(reason);
}
