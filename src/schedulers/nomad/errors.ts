import { SandboxError } from '../../errors.js';

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
    options?: { cause?: unknown },
  ) {
    const excerpt = body.trim().slice(0, BODY_EXCERPT_CHARS);
    super(
      'HPCSB_NOMAD_API',
      `Nomad API ${method} ${address}${path} failed with HTTP ${statusCode}` + (excerpt ? `: ${excerpt}` : ''),
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
export type NomadAccessKind = 'acl' | 'namespace' | 'region' | 'tls';

/**
 * Nomad would not let this client in: the ACL token (HTTP 403 "Permission denied"), an unknown
 * namespace or region, or a TLS handshake the certificates do not pass. One sentence, with
 * Nomad's own words as evidence.
 */
export class NomadAccessError extends SandboxError {
  constructor(
    readonly kind: NomadAccessKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(kind === 'tls' ? 'HPCSB_SCHEDULER_UNAVAILABLE' : 'HPCSB_CONFIG_INVALID', message, options);
  }
}
