import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { AbortedError, WaitTimeoutError } from '../errors.js';
import { logger } from '../common/logger.js';
import { DEFAULT_TIMEOUT_SECONDS } from '../protocol/constants.js';
import {
  ArtifactArchiveResponseSchema,
  ArtifactListResponseSchema,
  ArtifactReadResponseSchema,
  ExecuteResponseSchema,
  HealthResponseSchema,
  SlotsResponseSchema,
} from '../protocol/schemas.js';
import type {
  ArtifactArchiveRequest,
  ArtifactArchiveResponse,
  ArtifactListRequest,
  ArtifactListResponse,
  ArtifactReadRequest,
  ArtifactReadResponse,
  ExecuteRequest,
  ExecuteResponse,
  ExecuteStreamChunk,
  HealthResponse,
  SlotsResponse,
  TmuxArgs,
} from '../protocol/types.js';
import { describeBody, SandboxHttpError } from './sandbox-http-error.js';

const log = logger('client');

export interface SandboxClientOptions {
  /** Bearer token (the server's `--token-file` / `HPC_SANDBOX_TOKEN`). */
  token?: string;
  /** undici dispatcher to use instead of the client's own Pool (a MockAgent in tests); not closed by `close()`. */
  dispatcher?: Dispatcher;
  /**
   * Bound on one call without an execution timeout of its own. Calls that run a command get at
   * least the command's `timeout` plus 30 s. @default 300_000
   */
  requestTimeoutMs?: number;
}

/** Options every call takes. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface WaitUntilHealthyOptions extends CallOptions {
  /** @default 60_000 */
  timeoutMs?: number;
  /** Bound on each probe. @default 1_000 */
  probeTimeoutMs?: number;
  /** Longest pause between probes. Pauses are 5% of the time waited so far, at least 1 ms. @default 250 */
  maxIntervalMs?: number;
}

export interface BashOptions extends CallOptions {
  /** Seconds. @default 30 */
  timeout?: number;
  allowNetwork?: boolean;
  requireSandbox?: boolean;
  executionId?: string;
}

export interface BashStatefulOptions extends CallOptions {
  /** Seconds; past it the session is ended and the answer is a timeout. @default 30 */
  timeout?: number;
  /** A change restarts the slot's session (a new network namespace). @default true */
  allowNetwork?: boolean;
  requireStatefulSandbox?: boolean;
  executionId?: string;
}

export type TmuxOptions = BashStatefulOptions;

type ArtifactOptions<T> = CallOptions & Omit<T, 'slot_id' | 'path'>;

/**
 * Client of one sandbox server (Atropos-compatible API), over one undici Pool with keep-alive.
 * Every call takes `{ signal }`; non-2xx answers throw SandboxHttpError.
 *
 * @example
 * await using client = new SandboxClient('http://127.0.0.1:8080', { token });
 * await client.waitUntilHealthy({ timeoutMs: 30_000 });
 * const r = await client.bash('slot_0', 'echo hi');   // r.output === 'hi'
 */
export class SandboxClient implements AsyncDisposable {
  readonly baseUrl: string;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #headers: Record<string, string>;
  readonly #requestTimeoutMs: number;
  #closed = false;

  constructor(baseUrl: string, options: SandboxClientOptions = {}) {
    const url = new URL(baseUrl);
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.#ownsDispatcher = options.dispatcher === undefined;
    // Timeouts are ours (AbortSignal per call): undici's own would cut long commands at 300 s.
    this.#dispatcher = options.dispatcher ?? new Pool(url.origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 30_000 });
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (options.token !== undefined) this.#headers.authorization = `Bearer ${options.token}`;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
  }

  /** `GET /health`. */
  health(options: CallOptions = {}): Promise<HealthResponse> {
    return this.#call('GET', '/health', undefined, options, HealthResponseSchema) as Promise<HealthResponse>;
  }

  /** `GET /slots`. */
  slots(options: CallOptions = {}): Promise<SlotsResponse> {
    return this.#call('GET', '/slots', undefined, options, SlotsResponseSchema) as Promise<SlotsResponse>;
  }

  /** `POST /execute`. Tool failures the server answers with 200 (non-zero exit, timeout) resolve with `success: false`. */
  execute(request: ExecuteRequest, options: CallOptions = {}): Promise<ExecuteResponse> {
    return this.#call('POST', '/execute', request, options, ExecuteResponseSchema, this.#commandTimeoutMs(request.timeout)) as Promise<ExecuteResponse>;
  }

  /** `POST /batch`: answers in request order. Items never throw; a bad item answers `success: false`. */
  async batch(requests: ExecuteRequest[], options: CallOptions = {}): Promise<ExecuteResponse[]> {
    // Work in one slot is serialised: the batch lasts as long as the busiest slot's timeouts added up.
    const perSlot = new Map<string, number>();
    for (const r of requests) perSlot.set(r.slot_id, (perSlot.get(r.slot_id) ?? 0) + (r.timeout ?? DEFAULT_TIMEOUT_SECONDS));
    const longest = Math.max(0, ...perSlot.values());
    const answers = (await this.#call('POST', '/batch', requests, options, undefined, this.#commandTimeoutMs(longest))) as unknown;
    if (!Array.isArray(answers) || answers.length !== requests.length) {
      throw new SandboxHttpError('POST', '/batch', 200, answers, `POST ${this.baseUrl}/batch answered ${Array.isArray(answers) ? `${answers.length} results for ${requests.length} requests` : 'something else than an array'}`);
    }
    return answers.map((a) => ExecuteResponseSchema.parse(a) as ExecuteResponse);
  }

  /** `POST /reset`: kills what runs in the slot and empties its workspace. */
  reset(slotId: string, options: CallOptions = {}): Promise<ExecuteResponse> {
    return this.#call('POST', '/reset', { slot_id: slotId }, options, ExecuteResponseSchema) as Promise<ExecuteResponse>;
  }

  /** `POST /artifacts/read`. */
  readArtifact(slotId: string, path: string, options: ArtifactOptions<ArtifactReadRequest> = {}): Promise<ArtifactReadResponse> {
    const { signal, ...fields } = options;
    return this.#call('POST', '/artifacts/read', { slot_id: slotId, path, ...fields }, { signal }, ArtifactReadResponseSchema) as Promise<ArtifactReadResponse>;
  }

  /** `POST /artifacts/list`. */
  listArtifacts(slotId: string, path = '.', options: ArtifactOptions<ArtifactListRequest> = {}): Promise<ArtifactListResponse> {
    const { signal, ...fields } = options;
    return this.#call('POST', '/artifacts/list', { slot_id: slotId, path, ...fields }, { signal }, ArtifactListResponseSchema) as Promise<ArtifactListResponse>;
  }

  /** `POST /artifacts/archive`: `content` is the base64 of a tar.gz. */
  archiveArtifacts(slotId: string, path = '.', options: ArtifactOptions<ArtifactArchiveRequest> = {}): Promise<ArtifactArchiveResponse> {
    const { signal, ...fields } = options;
    return this.#call('POST', '/artifacts/archive', { slot_id: slotId, path, ...fields }, { signal }, ArtifactArchiveResponseSchema) as Promise<ArtifactArchiveResponse>;
  }

  /** Runs `command` with the `bash` tool. Resolves with the answer whatever the exit code. */
  bash(slotId: string, command: string, options: BashOptions = {}): Promise<ExecuteResponse> {
    const args: Record<string, unknown> = { command };
    if (options.allowNetwork !== undefined) args.allow_network = options.allowNetwork;
    if (options.requireSandbox !== undefined) args.require_sandbox = options.requireSandbox;
    const request: ExecuteRequest = { slot_id: slotId, tool: 'bash', args };
    if (options.timeout !== undefined) request.timeout = options.timeout;
    if (options.executionId !== undefined) request.execution_id = options.executionId;
    return this.execute(request, options);
  }

  /**
   * Runs `command` in the slot's stateful terminal session (`bash_stateful`): cwd, variables,
   * functions and background jobs persist between calls. Resolves whatever the exit code
   * (`metadata.exit_code`).
   */
  bashStateful(slotId: string, command: string, options: BashStatefulOptions = {}): Promise<ExecuteResponse> {
    return this.execute(this.#statefulRequest(slotId, 'bash_stateful', { command }, options), options);
  }

  /**
   * One `tmux` action on the slot's terminal session (the one `bashStateful` types into):
   * `start`, `send_keys`, `capture`, `stream` (`metadata.offset`) or `stop`.
   */
  tmux(slotId: string, args: TmuxArgs, options: TmuxOptions = {}): Promise<ExecuteResponse> {
    return this.execute(this.#statefulRequest(slotId, 'tmux', { ...args }, options), options);
  }

  #statefulRequest(slotId: string, tool: 'bash_stateful' | 'tmux', args: Record<string, unknown>, options: BashStatefulOptions): ExecuteRequest {
    if (options.allowNetwork !== undefined) args.allow_network = options.allowNetwork;
    if (options.requireStatefulSandbox !== undefined) args.require_stateful_sandbox = options.requireStatefulSandbox;
    const request: ExecuteRequest = { slot_id: slotId, tool, args };
    if (options.timeout !== undefined) request.timeout = options.timeout;
    if (options.executionId !== undefined) request.execution_id = options.executionId;
    return request;
  }

  /** The content of a file in the slot (`read_file`). Throws SandboxHttpError when the tool fails. */
  async readFile(slotId: string, path: string, options: CallOptions = {}): Promise<string> {
    return (await this.#tool(slotId, 'read_file', { path }, options)).output;
  }

  /** Writes a file in the slot (`write_file`, parents created). Throws SandboxHttpError when the tool fails. */
  writeFile(slotId: string, path: string, content: string, options: CallOptions = {}): Promise<ExecuteResponse> {
    return this.#tool(slotId, 'write_file', { path, content }, options);
  }

  /**
   * Polls `/health` until it answers 200 with `status: "ok"`. Each pause is 5% of the time waited
   * so far (at least 1 ms, at most `maxIntervalMs`): a server that boots in 60 ms is seen within
   * 3 ms of it, one that takes a minute costs a probe every 250 ms.
   * Connection refused is expected meanwhile. Each probe is bounded by its own timeout.
   * Throws WaitTimeoutError with the last observation, or AbortedError when `signal` fires.
   */
  async waitUntilHealthy(options: WaitUntilHealthyOptions = {}): Promise<HealthResponse> {
    const { signal, timeoutMs = 60_000, probeTimeoutMs = 1_000, maxIntervalMs = 250 } = options;
    const started = performance.now();
    const deadline = started + timeoutMs;
    let attempt = 0;
    let last: string | undefined;
    for (;;) {
      if (signal?.aborted) throw new AbortedError(`waiting for ${this.baseUrl}/health`, { cause: signal.reason });
      attempt++;
      const probeMs = Math.max(1, Math.ceil(Math.min(probeTimeoutMs, deadline - performance.now())));
      try {
        const health = (await this.#call('GET', '/health', undefined, { signal }, HealthResponseSchema, probeMs)) as HealthResponse;
        if (health.status === 'ok') {
          log('%s healthy after %d probes', this.baseUrl, attempt);
          return health;
        }
        last = `status ${JSON.stringify(health.status)}, attempt ${attempt}`;
      } catch (error) {
        if (signal?.aborted) throw new AbortedError(`waiting for ${this.baseUrl}/health`, { cause: signal.reason });
        const cutByDeadline = probeMs < probeTimeoutMs && error instanceof SandboxHttpError && error.statusCode === 0 && /no answer within/.test(error.message);
        // A last probe cut short by the overall deadline says less than the observation before it.
        if (!(cutByDeadline && last)) {
          last = `${error instanceof SandboxHttpError && error.statusCode !== 0 ? `HTTP ${error.statusCode}: ${describeBody(error.body)}` : (error as Error).message}, attempt ${attempt}`;
        }
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new WaitTimeoutError(`${this.baseUrl}/health`, timeoutMs, last);
      const intervalMs = Math.min(maxIntervalMs, Math.max(1, (performance.now() - started) * 0.05));
      await sleep(Math.ceil(Math.min(intervalMs, left)), undefined, signal ? { signal } : {}).catch(() => undefined);
    }
  }

  /** Closes the client's Pool (waits for calls in flight). A dispatcher passed in stays open. */
  async close(): Promise<void> {
    if (!this.#ownsDispatcher || this.#closed) return;
    this.#closed = true;
    await this.#dispatcher.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #tool(slotId: string, tool: 'read_file' | 'write_file', args: Record<string, unknown>, options: CallOptions): Promise<ExecuteResponse> {
    const answer = await this.execute({ slot_id: slotId, tool, args }, options);
    if (!answer.success) {
      throw new SandboxHttpError('POST', '/execute', 200, answer, `${tool} ${String(args.path)} in ${slotId} failed on ${this.baseUrl}: ${answer.error}`);
    }
    return answer;
  }

  #commandTimeoutMs(timeoutSeconds: number | undefined): number {
    return Math.max(this.#requestTimeoutMs, (timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000 + 30_000);
  }

  async #call(method: 'GET' | 'POST', path: string, body: unknown, options: CallOptions, schema?: z.ZodType, timeoutMs = this.#requestTimeoutMs): Promise<unknown> {
    const timeout = AbortSignal.timeout(Math.ceil(timeoutMs));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const where = `${method} ${this.baseUrl}${path}`;
    let statusCode: number;
    let text: string;
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        method,
        path: this.#basePath + path,
        headers: this.#headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal,
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      if (options.signal?.aborted) throw new AbortedError(where, { cause: error });
      const why = timeout.aborted ? `no answer within ${timeoutMs}ms` : (error as Error).message;
      throw new SandboxHttpError(method, path, 0, undefined, `${where} failed: ${why}`, { cause: error });
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text as evidence
    }
    if (statusCode < 200 || statusCode >= 300) {
      throw new SandboxHttpError(method, path, statusCode, typeof parsed === 'string' ? parsed.slice(0, 2_000) : parsed, `${where} answered ${statusCode}: ${describeBody(parsed)}`);
    }
    if (!schema) return parsed;
    const result = schema.safeParse(parsed);
    if (!result.success) {
      throw new SandboxHttpError(method, path, statusCode, parsed, `${where} answered ${statusCode} with an unexpected body: ${result.error.message}`, { cause: result.error });
    }
    return result.data;
  }

  /**
   * `POST /execute` with a streamed answer (NDJSON): yields `{type: 'stdout' | 'stderr', data}` as
   * the command prints, then `{type: 'result', ...}` with the usual answer, last. A refused request
   * (non-2xx) throws SandboxHttpError, as `execute` does.
   *
   * @example
   * for await (const chunk of client.executeStream({ slot_id: 'slot_0', tool: 'bash', args: { command: 'make' } })) {
   *   if (chunk.type === 'result') console.log(chunk.success);
   *   else process.stdout.write(chunk.data);
   * }
   */
  async *executeStream(request: ExecuteRequest, options: CallOptions = {}): AsyncGenerator<ExecuteStreamChunk, void, undefined> {
    const timeoutMs = this.#commandTimeoutMs(request.timeout);
    const timeout = AbortSignal.timeout(Math.ceil(timeoutMs));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const where = `POST ${this.baseUrl}/execute`;
    const fail = (error: unknown): never => {
      if (options.signal?.aborted) throw new AbortedError(where, { cause: error });
      throw new SandboxHttpError('POST', '/execute', 0, undefined, `${where} failed: ${timeout.aborted ? `no answer within ${timeoutMs}ms` : (error as Error).message}`, { cause: error });
    };
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#dispatcher.request({
        origin: this.#origin,
        method: 'POST',
        path: `${this.#basePath}/execute`,
        headers: { ...this.#headers, accept: 'application/x-ndjson' },
        body: JSON.stringify({ ...request, stream: true }),
        signal,
      });
    } catch (error) {
      return fail(error);
    }
    const parseLine = (line: string): ExecuteStreamChunk => {
      try {
        return JSON.parse(line) as ExecuteStreamChunk;
      } catch (error) {
        throw new SandboxHttpError('POST', '/execute', response.statusCode, line.slice(0, 2_000), `${where} streamed a line that is not JSON: ${line.slice(0, 200)}`, { cause: error });
      }
    };
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const text = await response.body.text().catch(() => '');
      const last = text.trim().split('\n').at(-1) ?? '';
      let parsed: unknown = text.slice(0, 2_000);
      try {
        parsed = JSON.parse(last);
      } catch {
        // keep the text as evidence
      }
      throw new SandboxHttpError('POST', '/execute', response.statusCode, parsed, `${where} answered ${response.statusCode}: ${describeBody(parsed)}`);
    }
    let pending = '';
    try {
      for await (const chunk of response.body) {
        pending += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) !== -1) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (line.trim()) yield parseLine(line);
        }
      }
    } catch (error) {
      if (error instanceof SandboxHttpError) throw error;
      fail(error);
    }
    if (pending.trim()) yield parseLine(pending);
  }
}
