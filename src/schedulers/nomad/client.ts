import { readFileSync } from 'node:fs';
import { Pool, type Dispatcher } from 'undici';
import { z } from 'zod';
import { logger } from '../../common/logger.js';
import { AbortedError, ConfigError, SandboxError } from '../../errors.js';
import {
  NomadAgentSelfSchema,
  NomadAllocStubSchema,
  NomadAllocationSchema,
  NomadEvaluationSchema,
  NomadNodeStubSchema,
  NomadRegisterResponseSchema,
  NomadValidateResponseSchema,
  type NomadAgentSelf,
  type NomadAllocStub,
  type NomadAllocation,
  type NomadEvaluation,
  type NomadNodeStub,
  type NomadRegisterResponse,
  type NomadValidateResponse,
} from './api-types.js';
import { NomadAccessError, NomadApiError, NomadTlsError } from './errors.js';
import { explainAccessFailure, explainTlsFailure } from './access-errors.js';
import type { NomadJob } from './jobspec.js';

const log = logger('scheduler:nomad:api');

/** A row of `GET /v1/jobs?meta=true`. */
const NomadJobListStubSchema = z.looseObject({
  ID: z.string(),
  Namespace: z.string().optional(),
  Status: z.string(),
  Stop: z.boolean().optional(),
  Meta: z.record(z.string(), z.string()).nullable().optional(),
});
export type NomadJobListStub = z.infer<typeof NomadJobListStubSchema>;

export interface NomadClientOptions {
  /** Agent HTTP address. @default process.env.NOMAD_ADDR ?? 'http://127.0.0.1:4646' */
  address?: string;
  /** ACL token sent as `X-Nomad-Token`. @default process.env.NOMAD_TOKEN */
  token?: string;
  /** `?namespace=` on every namespaced call. @default 'default' (Nomad's own default when unset) */
  namespace?: string;
  /** `?region=`: forwarded to another region. @default the agent's region */
  region?: string;
  /** HTTPS settings (an `https://` address): CA, client certificate and key, server name. */
  tls?: NomadClientTls;
  /** Replaces the owned undici Pool (tests inject a MockAgent). Not closed by `close()`. */
  dispatcher?: Dispatcher;
}

/** TLS as the Nomad CLI takes it (NOMAD_CACERT, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, ...): file paths. */
export interface NomadClientTls {
  /** PEM CA bundle that signed the agent's certificate. @default the system CAs */
  caFile?: string;
  /** PEM client certificate (mutual TLS: `verify_https_client = true` on the agent). */
  certFile?: string;
  keyFile?: string;
  /** Name to verify the agent's certificate against (`server.global.nomad` for Nomad's own CA). @default the address host */
  serverName?: string;
  /** Accept any certificate (NOMAD_SKIP_VERIFY). @default false */
  skipVerify?: boolean;
}

/** Options of a blocking (long-poll) read. */
export interface BlockingOptions {
  /** Hang until Nomad's index for the resource exceeds this (from the previous `index`). */
  index?: number;
  /** Longest hang, in seconds (Nomad adds up to wait/16 jitter). @default 30 */
  waitSeconds?: number;
  signal?: AbortSignal;
}

/** A blocking read's answer: the value and the `X-Nomad-Index` to pass to the next read. */
export interface Indexed<T> {
  value: T;
  index: number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  signal?: AbortSignal;
  /** Add `namespace`/`region` (every job/alloc/eval call). @default true */
  scoped?: boolean;
}

/**
 * A small typed client for the parts of the Nomad HTTP API that place and watch sandbox servers.
 * Owns one undici Pool for its agent (connections uncapped: one long poll per placement); answers
 * are checked with zod; non-2xx answers become `NomadApiError` with the plain-text body. Waits use
 * blocking queries (`index`/`wait`), never sleeps.
 *
 * @example
 * await using nomad = new NomadClient({ address: 'http://127.0.0.1:4646' });
 * const leader = await nomad.leader();
 */
export class NomadClient implements AsyncDisposable {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly region: string | undefined;
  readonly #token: string | undefined;
  readonly #tls: NomadClientTls | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #closed = false;

  constructor(options: NomadClientOptions = {}) {
    this.address = (options.address ?? process.env.NOMAD_ADDR ?? 'http://127.0.0.1:4646').replace(/\/+$/, '');
    this.namespace = options.namespace;
    this.region = options.region;
    this.#token = options.token ?? process.env.NOMAD_TOKEN;
    this.#tls = options.tls;
    this.#ownsDispatcher = options.dispatcher === undefined;
    // Blocking queries hang up to `wait` (+1/16 jitter): the headers timeout must outlast them.
    // Every placement keeps one blocking query open on its allocation: a capped pool would queue
    // registers, stops and other placements' polls behind them, so connections are not capped.
    this.#dispatcher =
      options.dispatcher ??
      new Pool(this.address, { connections: null, headersTimeout: 120_000, bodyTimeout: 120_000, ...(options.tls ? { connect: tlsConnectOptions(options.tls) } : {}) });
  }

  // ---- status and nodes ----

  /** `GET /v1/status/leader`: the leader's RPC address, `""` while there is none. */
  async leader(options: { signal?: AbortSignal } = {}): Promise<string> {
    return (await this.call('GET', '/v1/status/leader', z.string(), { ...options, scoped: false })).value;
  }

  /** `GET /v1/agent/self` (version under `config.Version`). */
  async agentSelf(options: { signal?: AbortSignal } = {}): Promise<NomadAgentSelf> {
    return (await this.call('GET', '/v1/agent/self', NomadAgentSelfSchema, { ...options, scoped: false })).value;
  }

  /** `GET /v1/nodes` (blocking), with `Drivers`. */
  async nodes(options: BlockingOptions = {}): Promise<Indexed<NomadNodeStub[]>> {
    return this.call('GET', '/v1/nodes', z.array(NomadNodeStubSchema), { query: blockingQuery(options), signal: options.signal, scoped: false });
  }

  // ---- jobs ----

  /**
   * `GET /v1/jobs?meta=true`: the jobs of the client's namespace (`'*'`: all it may read), with
   * their Meta (where `hpc-sandbox cleanup` finds the run label).
   */
  async jobs(options: { prefix?: string; signal?: AbortSignal } = {}): Promise<NomadJobListStub[]> {
    return (await this.call('GET', '/v1/jobs', z.array(NomadJobListStubSchema), { query: { meta: true, prefix: options.prefix }, signal: options.signal })).value;
  }

  /** `POST /v1/validate/job`: Nomad's own checks, without registering. */
  async validateJob(job: NomadJob, options: { signal?: AbortSignal } = {}): Promise<NomadValidateResponse> {
    return (await this.call('POST', '/v1/validate/job', NomadValidateResponseSchema, { body: { Job: job }, signal: options.signal })).value;
  }

  /** `POST /v1/jobs`: registers (or updates) a job; the answer names the evaluation. */
  async registerJob(job: NomadJob, options: { signal?: AbortSignal } = {}): Promise<NomadRegisterResponse> {
    return (await this.call('POST', '/v1/jobs', NomadRegisterResponseSchema, { body: { Job: job }, signal: options.signal })).value;
  }

  /** `DELETE /v1/job/:id` (idempotent: an unknown job answers 200 with no eval). */
  async deregisterJob(jobId: string, options: { purge?: boolean; signal?: AbortSignal } = {}): Promise<NomadRegisterResponse> {
    return (
      await this.call('DELETE', `/v1/job/${encodeURIComponent(jobId)}`, NomadRegisterResponseSchema, {
        query: { purge: options.purge ? true : undefined },
        signal: options.signal,
      })
    ).value;
  }

  /** `GET /v1/job/:id/allocations` (blocking). Stubs carry TaskStates but no ports. */
  async jobAllocations(jobId: string, options: BlockingOptions = {}): Promise<Indexed<NomadAllocStub[]>> {
    return this.call('GET', `/v1/job/${encodeURIComponent(jobId)}/allocations`, z.array(NomadAllocStubSchema), {
      query: blockingQuery(options),
      signal: options.signal,
    });
  }

  // ---- allocations and evaluations ----

  /** `GET /v1/allocation/:id` (blocking): the full allocation, with AllocatedResources (ports). */
  async allocation(allocId: string, options: BlockingOptions = {}): Promise<Indexed<NomadAllocation>> {
    return this.call('GET', `/v1/allocation/${encodeURIComponent(allocId)}`, NomadAllocationSchema, {
      query: blockingQuery(options),
      signal: options.signal,
    });
  }

  /** `GET /v1/evaluation/:id` (blocking). */
  async evaluation(evalId: string, options: BlockingOptions = {}): Promise<Indexed<NomadEvaluation>> {
    return this.call('GET', `/v1/evaluation/${encodeURIComponent(evalId)}`, NomadEvaluationSchema, {
      query: blockingQuery(options),
      signal: options.signal,
    });
  }

  /**
   * `GET /v1/client/fs/logs/:alloc?plain=true`: the last `tailBytes` bytes of a task's stdout or
   * stderr (origin=end). An alloc whose log file does not exist yet reads as "".
   */
  async taskLogs(
    allocId: string,
    task: string,
    type: 'stdout' | 'stderr',
    options: { tailBytes?: number; signal?: AbortSignal } = {},
  ): Promise<string> {
    const query = { task, type, plain: true, origin: 'end', offset: options.tailBytes ?? 16_384 };
    try {
      const { text } = await this.#raw('GET', `/v1/client/fs/logs/${encodeURIComponent(allocId)}`, { query, signal: options.signal });
      return text;
    } catch (error) {
      if (error instanceof NomadApiError && error.statusCode === 404) return '';
      throw error;
    }
  }

  /** Closes the owned Pool (drains in-flight calls). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- plumbing ----

  /**
   * One API call whose JSON answer is checked with `schema`. Protected so a subclass can add an
   * endpoint (the test-only `testing/scaling-client.ts`) on the same plumbing: token, namespace,
   * TLS and the errors.
   */
  protected async call<T>(method: string, path: string, schema: z.ZodType<T>, options: RequestOptions = {}): Promise<Indexed<T>> {
    const { text, index } = await this.#raw(method, path, options);
    let json: unknown;
    try {
      json = text === '' ? null : JSON.parse(text);
    } catch (cause) {
      throw new SandboxError('HPCSB_NOMAD_API', `Nomad API ${method} ${this.address}${path} answered non-JSON: ${text.slice(0, 300)}`, { cause });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new SandboxError(
        'HPCSB_NOMAD_API',
        `Nomad API ${method} ${this.address}${path} answered an unexpected shape:\n${z.prettifyError(parsed.error)}`,
        { cause: parsed.error },
      );
    }
    return { value: parsed.data, index };
  }

  async #raw(method: string, path: string, options: RequestOptions): Promise<{ text: string; index: number }> {
    if (this.#closed) throw new SandboxError('HPCSB_NOMAD_API', `NomadClient for ${this.address} is closed`);
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) query.set(key, String(value));
    if (options.scoped !== false) {
      if (this.namespace) query.set('namespace', this.namespace);
      if (this.region) query.set('region', this.region);
    }
    const fullPath = query.size > 0 ? `${path}?${query}` : path;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers['x-nomad-token'] = this.#token;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    log('%s %s', method, fullPath);
    let response: Dispatcher.ResponseData;
    let text: string;
    try {
      response = await this.#dispatcher.request({
        origin: this.address,
        method: method as Dispatcher.HttpMethod,
        path: fullPath,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
      });
      // Inside the try: an abort or a dropped connection can also cut the body short.
      text = await response.body.text();
    } catch (cause) {
      if (options.signal?.aborted) throw new AbortedError(`Nomad API ${method} ${this.address}${path}`, { cause });
      const tlsProblem = explainTlsFailure(cause, this.address, this.#tls);
      if (tlsProblem) throw new NomadTlsError(tlsProblem, { cause });
      throw new SandboxError(
        'HPCSB_NOMAD_API',
        `Nomad API ${method} ${this.address}${path} could not be reached: ${(cause as Error).message ?? cause}`,
        { cause },
      );
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      const apiError = new NomadApiError(method, path, response.statusCode, text, this.address);
      const access = explainAccessFailure(apiError, { namespace: this.namespace, region: this.region, hasToken: Boolean(this.#token) });
      if (access) throw new NomadAccessError(access.kind, access.message, apiError);
      throw apiError;
    }
    const indexHeader = response.headers['x-nomad-index'];
    const index = Number(Array.isArray(indexHeader) ? indexHeader[0] : indexHeader ?? 0) || 0;
    return { text, index };
  }
}

/** undici `connect` options for `tls`; a file that cannot be read is a ConfigError naming it. */
function tlsConnectOptions(tls: NomadClientTls): Record<string, unknown> {
  const read = (what: string, path: string | undefined): Buffer | undefined => {
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ConfigError(`Cannot read the Nomad TLS ${what} ${path}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
    }
  };
  if (Boolean(tls.certFile) !== Boolean(tls.keyFile)) {
    throw new ConfigError(`Nomad mutual TLS needs both a client certificate and its key; got only the ${tls.certFile ? `certificate ${tls.certFile}` : `key ${tls.keyFile}`}`);
  }
  const ca = read('CA file', tls.caFile);
  const cert = read('client certificate', tls.certFile);
  const key = read('client key', tls.keyFile);
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(tls.serverName ? { servername: tls.serverName } : {}),
    rejectUnauthorized: !tls.skipVerify,
  };
}

/** The `index`/`wait` query of a blocking read (none without an index). */
export function blockingQuery(options: BlockingOptions): Record<string, string | number | undefined> {
  if (options.index === undefined) return {};
  return { index: options.index, wait: `${options.waitSeconds ?? 30}s` };
}
