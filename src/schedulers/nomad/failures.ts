import type { NomadAllocMetric, NomadTaskEvent, NomadTaskState } from './api-types.js';

/** Task event types that mean the task will not run (exact Nomad strings). */
const FATAL_EVENT_TYPES = new Set([
  'Driver Failure',
  'Failed Validation',
  'Setup Failure',
  'Failed Artifact Download',
  'Task hook failed',
  'Not Restarting',
]);

/**
 * One sentence an operator can act on, from an evaluation's `FailedTGAllocs.<group>` metric:
 * which port collided, which driver is missing, which resource is exhausted, or that no node is
 * ready in the datacenters asked for. `taskDriver` (the job's Nomad task driver) names the driver
 * that Nomad's "missing drivers" leaves unnamed.
 *
 * @example
 * describePlacementFailure('sandbox', { NodesEvaluated: 1, NodesExhausted: 1,
 *   DimensionExhausted: { 'network: reserved port collision http=8080': 1 } })
 * // 'task group "sandbox" was not placed: static port 8080 (label http) is already reserved ...'
 */
export function describePlacementFailure(group: string, metric: NomadAllocMetric, taskDriver?: string): string {
  const reasons: string[] = [];
  for (const [key, nodes] of Object.entries(metric.DimensionExhausted ?? {})) {
    const collision = /reserved port collision (\S+)=(\d+)/.exec(key);
    if (collision) {
      reasons.push(
        `static port ${collision[2]} (label ${collision[1]}) is already reserved by another allocation on ${plural(nodes, 'node')} ` +
          `(Nomad: "${key}"); use dynamic ports or another port`,
      );
    } else if (/^(cpu|memory|disk|cores)$/.test(key)) {
      reasons.push(`not enough ${key} left on ${plural(nodes, 'node')} (Nomad: "${key}" exhausted); lower the task's resources or free the nodes`);
    } else {
      reasons.push(`${key} on ${plural(nodes, 'node')}`);
    }
  }
  for (const [key, nodes] of Object.entries(metric.ConstraintFiltered ?? {})) {
    if (key === 'missing drivers') {
      const which = taskDriver ? `the ${taskDriver} driver` : "the task's driver";
      reasons.push(`no node has ${which} detected and healthy (${plural(nodes, 'node')} filtered: "missing drivers")`);
    } else if (key.includes('attr.consul')) {
      reasons.push(`a Consul service needs a Consul agent (${plural(nodes, 'node')} filtered: "${key}")`);
    } else {
      reasons.push(`constraint "${key}" filtered ${plural(nodes, 'node')}`);
    }
  }
  for (const [key, nodes] of Object.entries(metric.ClassFiltered ?? {})) reasons.push(`node class "${key}" filtered ${plural(nodes, 'node')}`);
  for (const quota of metric.QuotaExhausted ?? []) reasons.push(`quota exhausted: ${quota}`);
  if (reasons.length === 0 && (metric.NodesEvaluated ?? 0) === 0) {
    const available = Object.entries(metric.NodesAvailable ?? {}).map(([dc, n]) => `${dc}: ${n}`).join(', ');
    reasons.push(`no ready node to evaluate` + (available ? ` (nodes available per datacenter: ${available})` : ' in the requested datacenters'));
  }
  if (reasons.length === 0) reasons.push(`Nomad gave no reason (metric: ${JSON.stringify(metric)})`);
  return `task group "${group}" was not placed: ${reasons.join('; ')}`;
}

/** A task event that ends the task for good, or undefined. */
export function fatalTaskEvent(state: NomadTaskState | undefined): NomadTaskEvent | undefined {
  const events = state?.Events ?? [];
  const fatal = events.filter((e) => FATAL_EVENT_TYPES.has(e.Type) || e.FailsTask);
  if (fatal.length > 0) return fatal[0];
  if (state?.State === 'dead' && state.Failed) return events[events.length - 1];
  return undefined;
}

/** `Driver Failure: failed to launch command with executor: ...` from one event. */
export function describeTaskEvent(event: NomadTaskEvent): string {
  const detail =
    event.DriverError || event.ValidationError || event.SetupError || event.DisplayMessage || event.Message || event.KillReason || '';
  const exit = event.ExitCode !== undefined && event.Type === 'Terminated' ? ` (exit code ${event.ExitCode})` : '';
  return `${event.Type}${exit}` + (detail ? `: ${detail}` : '');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
