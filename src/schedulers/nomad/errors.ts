import { SandboxError, type SandboxErrorCode } from '../../errors.js';

/** Longest body excerpt kept in a NomadApiError message (the full body stays in `body`). */
const BODY_EXCERPT_CHARS = 2_000;

/**
 * A Nomad HTTP call answered non-2xx. Nomad's error bodies are plain text (`job not found`,
 * `No cluster leader`, `1 error occurred: ...`), kept verbatim in `body`.
 */
export class NomadApiError extends SandboxError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number,
    readonly body: string,
    readonly address: string,
    options?: { cause?: unknown; message?: string; code?: SandboxErrorCode },
  ) {
    const excerpt = body.trim().slice(0, BODY_EXCERPT_CHARS);
    super(
      options?.code ?? 'HPCSB_NOMAD_API',
      options?.message ?? `Nomad API ${method} ${address}${path} failed with HTTP ${statusCode}` + (excerpt ? `: ${excerpt}` : ''),
      options,
    );
  }

  /** The status code, as the contract in STYLE.md names it (`status`). */
  get status(): number {
    return this.statusCode;
  }
}

/**
 * Nomad could not place or start the sandbox: the evaluation's FailedTGAllocs (port collision,
 * missing driver, exhausted resources) or a task failure event with the last lines of stderr.
 */
export class NomadPlacementError extends SandboxError {
  constructor(
    readonly jobId: string,
    readonly reason: string,
    readonly evidence: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('HPCSB_PLACEMENT_FAILED', `Nomad could not run job ${jobId}: ${reason}` + (evidence ? `\n${evidence}` : ''), options);
  }
}

/** Why Nomad turned the client away, as an operator would fix it. */
export type NomadAccessKind = 'acl' | 'namespace' | 'region';

/**
 * Nomad answered that this client may not do this here: the ACL token (HTTP 403 "Permission
 * denied" / "ACL token not found"), an unknown namespace or region. Still a NomadApiError (status
 * and body kept); the message is one sentence with Nomad's own words as evidence.
 */
export class NomadAccessError extends NomadApiError {
  constructor(
    readonly kind: NomadAccessKind,
    message: string,
    api: NomadApiError,
  ) {
    super(api.method, api.path, api.statusCode, api.body, api.address, { message, code: 'HPCSB_CONFIG_INVALID', cause: api });
  }
}

/** The TLS handshake with the agent failed: a CA that does not verify it, a missing client certificate. */
export class NomadTlsError extends SandboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('HPCSB_SCHEDULER_UNAVAILABLE', message, options);
  }
}
