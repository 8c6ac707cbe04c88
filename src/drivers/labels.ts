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
