import { Pool } from 'undici';
import { SandboxError } from '../errors.js';
import type { Placement } from '../schedulers/scheduler.js';
import type { ExecuteRequest, ExecuteResult, SandboxConnection } from './sandbox-connection.js';

/** A sandbox server answered something the pool cannot use. */
export class SandboxHttpError extends SandboxError {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly statusCode: number,
    readonly body: string,
  ) {
    super('HPCSB_SANDBOX_HTTP', `${method} ${url} answered ${statusCode}: ${body.slice(0, 500)}`);
  }
}

/**
 * The pool's default connection: the four endpoints it needs, over one keep-alive undici Pool per
 * placement. Tool failures (a non-2xx `/execute` with an execute-shaped body) come back as results,
 * as the Atropos client sees them; anything else throws `SandboxHttpError`.
 */
export class HttpSandboxConnection implements SandboxConnection {
  readonly #pool: Pool;
  readonly #url: string;
  readonly #headers: Record<string, string>;

  constructor(placement: Pick<Placement, 'url' | 'token'>, options: { connections?: number } = {}) {
    this.#url = placement.url;
    this.#pool = new Pool(placement.url, { connections: options.connections ?? 64, pipelining: 1 });
    this.#headers = { 'content-type': 'application/json' };
    if (placement.token) this.#headers.authorization = `Bearer ${placement.token}`;
  }

  async health(options: { signal: AbortSignal }): Promise<unknown> {
    return this.#send('GET', '/health', undefined, options.signal, (status) => status === 200);
  }

  async execute(request: ExecuteRequest, options: { signal: AbortSignal }): Promise<ExecuteResult> {
    return this.#send('POST', '/execute', request, options.signal, isExecuteShaped) as Promise<ExecuteResult>;
  }

  async batch(requests: ExecuteRequest[], options: { signal: AbortSignal }): Promise<ExecuteResult[]> {
    return this.#send('POST', '/batch', requests, options.signal, (status) => status === 200) as Promise<ExecuteResult[]>;
  }

  async reset(slotId: string, options: { signal: AbortSignal }): Promise<void> {
    await this.#send('POST', '/reset', { slot_id: slotId }, options.signal, (status) => status === 200);
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal,
    accept: (status: number, parsed: unknown) => boolean,
  ): Promise<unknown> {
    const response = await this.#pool.request({
      method,
      path,
      headers: this.#headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await response.body.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || !accept(response.statusCode, parsed)) {
      throw new SandboxHttpError(method, `${this.#url}${path}`, response.statusCode, text);
    }
    return parsed;
  }
}

function isExecuteShaped(_status: number, body: unknown): boolean {
  return typeof body === 'object' && body !== null && typeof (body as { success?: unknown }).success === 'boolean';
}

/** `connect` for SlotPool: one `HttpSandboxConnection` per placement. */
export function connectHttp(placement: Placement): SandboxConnection {
  return new HttpSandboxConnection(placement);
}
