import { randomUUID } from 'node:crypto';

/** Prefix of every label hpc-sandbox puts on containers and images it creates. */
export const LABEL_PREFIX = 'io.hpc-sandbox';

/** Label whose value is the session that started a container, so leftovers can be swept. */
export const SESSION_ID_LABEL = `${LABEL_PREFIX}.session-id`;

let currentSessionId: string | undefined;

/**
 * This process's session id: `HPC_SANDBOX_SESSION_ID` when set (a CI job can pin it), otherwise a
 * random UUID chosen once per process.
 */
export function sessionId(env: NodeJS.ProcessEnv = process.env): string {
  currentSessionId ??= env.HPC_SANDBOX_SESSION_ID || randomUUID();
  return currentSessionId;
}

/** Labels naming the host, pid and start time of the run that owns a container (see run-label.ts). */
export const RUN_HOST_LABEL = `${LABEL_PREFIX}.run-host`;
export const RUN_PID_LABEL = `${LABEL_PREFIX}.run-pid`;
export const RUN_STARTED_LABEL = `${LABEL_PREFIX}.run-started`;

/** The container labels of a run label: the session id is the run id. */
export function runLabels(label: { runId: string; host: string; pid: number; startedAtMs: number }): Record<string, string> {
  return { [SESSION_ID_LABEL]: label.runId, [RUN_HOST_LABEL]: label.host, [RUN_PID_LABEL]: String(label.pid), [RUN_STARTED_LABEL]: String(label.startedAtMs) };
}
