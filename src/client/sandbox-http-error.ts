import { SandboxError } from '../errors.js';

/**
 * A sandbox server call failed: a non-2xx answer (`statusCode`, parsed JSON `body`), an answer of
 * the wrong shape, or no answer at all (`statusCode` 0: connection refused or reset, request
 * timed out; see `cause`).
 */
export class SandboxHttpError extends SandboxError {
  constructor(
    readonly method: string,
    /** Path of the endpoint, e.g. `/execute`. */
    readonly path: string,
    readonly statusCode: number,
    /** Parsed JSON body when the server sent JSON, else the text (cut at 2,000 characters). */
    readonly body: unknown,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('HPCSB_SANDBOX_HTTP', message, options);
  }
}

/** The server's `error` field when the body has one, else the body text. */
export function describeBody(body: unknown): string {
  if (body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string') return (body as { error: string }).error;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
