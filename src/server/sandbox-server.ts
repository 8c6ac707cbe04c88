import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { slotId, slotRange } from '../protocol/slot-id.js';
import { DEFAULT_LIMITS, DEFAULT_TIMEOUT_SECONDS, ENV, SERVER_VERSION, STATEFUL_TOOLS, TOOLS } from '../protocol/constants.js';
import type { ErrorResponse, ExecMode, ExecuteRequest, ExecuteResponse, HealthResponse, IsolationMode, SlotsResponse } from '../protocol/types.js';
import {
  validateArtifactArchiveRequest,
  validateArtifactListRequest,
  validateArtifactReadRequest,
  validateExecuteRequest,
  validateResetRequest,
  type Validated,
} from '../protocol/validate.js';
import { archiveArtifacts, listArtifacts, readArtifact } from './artifacts.js';
import { bearerMatches } from './auth.js';
import { bashTool } from './bash-tool.js';
import { beginBoot, type SandboxBoot } from './boot.js';
import { readFileTool, writeFileTool } from './file-tools.js';
import { HostGuard } from './host-guard.js';
import { resolveExecMode, StandingSandboxes } from './exec-mode.js';
import { ExecuteStream, wantsStream } from './execute-stream.js';
import type { OutputListener } from './run-command.js';
import { discardRestOfBody, drainBody, HttpError, readJsonBody, requireJsonContentType, sendJson } from './http-io.js';
import type { IsolationProbe } from './isolation.js';
import { serverLog } from './log.js';
import { removeReadyFile, writeReadyFile } from './ready-file.js';
import { ServerSlot } from './server-slot.js';
import { commandEnv } from './command-env.js';
import { describeLimits, type SlotLimits } from './slot-limits.js';
import { toolFailure, type ToolResult } from './tool-result.js';
import { bashStatefulTool } from './terminal/bash-stateful-tool.js';
import { TerminalSessions } from './terminal/terminal-sessions.js';
import { tmuxTool } from './terminal/tmux-tool.js';

const log = serverLog('http');

/** Caps the server applies; defaults are Atropos's (DEFAULT_LIMITS). */
export type ServerLimitsConfig = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/** Everything the server needs to start (see parseServeArgs for the command line). */
export interface SandboxServerOptions {
  /** 0 binds a free port (read it from the result or the ready file). */
  port: number;
  host: string;
  slots: number;
  dataDir: string;
  /** Bearer token every endpoint but `/health` requires. */
  token?: string;
  /** File the token came from: hidden inside the sandbox. */
  tokenFile?: string;
  isolation: IsolationMode;
  /** `standing`: commands fork inside each slot's long-lived sandbox; `spawn`: a sandbox per command. @default standing where bwrap works */
  execMode?: ExecMode;
  limits?: Partial<ServerLimitsConfig>;
  /** The server's environment: read for LANG, TERM, TZ and the `passEnv` names, and for PATH lookups. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Server variables that commands see (`--pass-env`); nothing else of `env` crosses, the token never. */
  passEnv?: readonly string[];
  /** Grants bound into every slot, `SRC[:DEST][:ro|rw]` (`--expose`); a missing source stops the start. */
  expose?: readonly string[];
  /** First host uid of the per-slot users when the server runs as root. @default 2000000 */
  uidBase?: number;
  /** Per-slot resource limits (`--max-procs`, `--max-memory`, `--max-file-size`, `--tmp-size`). */
  slotLimits?: Partial<SlotLimits>;
  /** Timeouts and caps of the HTTP side (see DEFAULT_HTTP_LIMITS). */
  http?: Partial<HttpLimits>;
  /**
   * DNS names a client may use in `Host` besides IP literals, `localhost`, this machine's
   * hostname and the bind host (DNS rebinding protection). @default []
   */
  allowedHosts?: readonly string[];
}

/** Timeouts and caps of the HTTP side. */
export interface HttpLimits {
  /** A client must send its request line and headers within this. @default 20_000 */
  headersTimeoutMs: number;
  /** A client must send its whole request, body included, within this (answers may take longer). @default 120_000 */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. @default 65_000 (longer than the client's 30 s) */
  keepAliveTimeoutMs: number;
  /**
   * Open connections served at once; requests on connections beyond it are answered 503
   * (`too_many_connections`, `Retry-After: 1`) and those connections closed. Connections beyond
   * twice the cap are dropped on accept. @default 256
   */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 120_000,
  keepAliveTimeoutMs: 65_000,
  maxConnections: 256,
};

/** A listening sandbox server. */
export interface RunningSandboxServer {
  /** `http://host:port` with a connectable host (0.0.0.0 becomes 127.0.0.1). */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Real path of the data dir. */
  readonly dataDir: string;
  /** Resolves once the bubblewrap probe finished. */
  readonly isolation: Promise<IsolationProbe>;
  /** Stops accepting, kills running commands, waits for answers in flight, removes the ready file. */
  close(): Promise<void>;
}

function connectableHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

function errorBody(errorCode: string, error: string, extra: Record<string, unknown> = {}): ErrorResponse {
  return { success: false, error, error_code: errorCode, ...extra };
}

/** The `execution_id` of a request refused by validation, so the caller can still match the answer. */
function executionIdOf(body: unknown): string | null {
  const id = (body as { execution_id?: unknown } | null)?.execution_id;
  return typeof id === 'string' ? id : null;
}

/** The answer to an execute request whose fields are wrong (a 400; inside a batch, its item). */
function invalidExecuteRequest(body: unknown, error: string): ToolResult {
  const refused = toolFailure(400, error, { error_code: 'invalid_request' });
  return { status: refused.status, response: { ...refused.response, execution_id: executionIdOf(body) } };
}

function unwrap<T>(result: Validated<T>): T {
  if (!result.ok) throw new HttpError(400, 'invalid_request', result.error);
  return result.value;
}

/**
 * `gone` aborts when the client closes its connection before the answer is sent. A route that
 * answered on `res` itself (a streamed answer) resolves with undefined.
 */
type Route = (req: IncomingMessage, gone: AbortSignal, res: ServerResponse) => Promise<{ status: number; body: unknown } | undefined>;

/** Longest a reset waits for the slot's new standing sandbox to come up. */
const RESET_WAITS_FOR_SANDBOX_MS = 10_000;

/**
 * Starts a sandbox server: creates `slot_0..slot_{N-1}` under the data dir, starts listening and,
 * in parallel, probes bubblewrap (requests that need the result wait for it). Once listening it
 * writes the ready file. `boot`, when given, is `beginBoot(options)` called earlier by the caller
 * (the entry starts the probe before loading this module); by default it is called here.
 */
export async function startSandboxServer(options: SandboxServerOptions, boot: SandboxBoot = beginBoot(options)): Promise<RunningSandboxServer> {
  const { started, dataDir, layout, isolation } = boot;
  const limits: ServerLimitsConfig = { ...DEFAULT_LIMITS, ...options.limits };
  const http: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.http };
  const hostGuard = new HostGuard(options.host, options.allowedHosts);
  /** Sockets accepted beyond `http.maxConnections`: their requests are answered 503. */
  const overCap = new WeakSet<object>();
  let openConnections = 0;
  const orderedSlots = boot.slotDirs.map((dir, i) => new ServerSlot(slotId(i), dir, boot.slotUsers[i]));
  const slots = new Map(orderedSlots.map((slot) => [slot.id, slot]));
  const envFor = (sandboxed: boolean, slotDir: string): NodeJS.ProcessEnv =>
    commandEnv({ serverEnv: options.env ?? process.env, passEnv: options.passEnv ?? [], home: sandboxed ? '/workspace' : slotDir, denied: [ENV.token] });
  let port = options.port;
  let closing = false;
  const execMode = isolation.then((probe) => resolveExecMode(options.execMode, probe, layout));
  const standingSandboxes = new StandingSandboxes();
  const sandboxOf = (slot: ServerSlot, probe: IsolationProbe) => ({ slotDir: slot.dir, isolation: probe, layout, env: envFor(probe.config !== undefined, slot.dir), ...(slot.user ? { user: slot.user } : {}) });
  const standingOf = async (slot: ServerSlot) => {
    const probe = await isolation;
    return (await execMode).mode === 'standing' ? standingSandboxes.of(slot.id, () => sandboxOf(slot, probe)) : undefined;
  };
  // Every slot's sandbox starts once the probe is done, after the first answers that waited for it.
  void execMode.then(({ mode }) => {
    if (mode === 'standing') setTimeout(() => !closing && orderedSlots.forEach((slot) => void standingOf(slot).then((standing) => standing?.start())), 0);
  });
  // Stateful terminals (bash_stateful, tmux): one tmux session per slot, in its own sandbox.
  const terminals = new TerminalSessions(dataDir, options.slots, options.env ?? process.env);
  const tools: string[] = TOOLS.filter((tool) => terminals.tmuxPath !== undefined || !(STATEFUL_TOOLS as readonly string[]).includes(tool));

  const unknownSlot = (id: string): string => `Unknown slot: ${id} (this server has ${slotRange(options.slots)})`;
  const slotFor = (id: string): ServerSlot => {
    const slot = slots.get(id);
    if (!slot) throw new HttpError(404, 'unknown_slot', unknownSlot(id));
    return slot;
  };

  const executeOne = async (request: ExecuteRequest, clientGone: AbortSignal, onOutput?: OutputListener): Promise<ToolResult> => {
    const executionId = request.execution_id ?? null;
    const stamp = (result: ToolResult): ToolResult => ({ status: result.status, response: { ...result.response, execution_id: executionId } });
    if (!(TOOLS as readonly string[]).includes(request.tool)) {
      return stamp(toolFailure(400, `Unknown tool: ${request.tool} (tools: ${TOOLS.join(', ')})`, { error_code: 'unknown_tool', tools: [...TOOLS] }));
    }
    const slot = slots.get(request.slot_id);
    if (!slot) return stamp(toolFailure(404, unknownSlot(request.slot_id), { error_code: 'unknown_slot' }));
    const timeoutSeconds = Math.min(request.timeout ?? DEFAULT_TIMEOUT_SECONDS, limits.maxTimeoutSeconds);
    const args = request.args as Record<string, unknown>;
    const probe = request.tool === 'bash' || (STATEFUL_TOOLS as readonly string[]).includes(request.tool) ? await isolation : undefined;
    const standing = request.tool === 'bash' ? await standingOf(slot) : undefined;
    return stamp(
      await slot.run(executionId, async (slotSignal) => {
        switch (request.tool) {
          case 'bash': {
            // Nobody waits for the answer any more: free the slot instead of running to the timeout.
            const signal = AbortSignal.any([slotSignal, clientGone]);
            return bashTool(args, timeoutSeconds, { sandbox: sandboxOf(slot, probe!), mode: options.isolation, maxOutputChars: limits.maxOutputChars, signal, ...(standing ? { standing } : {}), ...(onOutput ? { onOutput } : {}) });
          }
          case 'bash_stateful':
          case 'tmux': {
            const signal = AbortSignal.any([slotSignal, clientGone]);
            const context = { sessions: terminals, slotId: slot.id, sandbox: sandboxOf(slot, probe!), mode: options.isolation, maxOutputChars: limits.maxOutputChars, signal };
            return request.tool === 'tmux' ? tmuxTool(args, timeoutSeconds, context) : bashStatefulTool(args, timeoutSeconds, context);
          }
          case 'read_file':
            return readFileTool(slot.dir, args, limits.maxFileSize);
          default:
            return writeFileTool(slot.dir, args, limits.maxFileSize, slot.user);
        }
      }),
    );
  };

  const routes: Record<string, Route> = {
    'GET /health': async () => {
      const probe = await isolation;
      const executing = orderedSlots.filter((s) => s.state === 'executing').length;
      const resolvedMode = await execMode;
      const body: HealthResponse = {
        status: 'ok',
        slots: options.slots,
        available: options.slots - executing,
        executing,
        data_dir: dataDir,
        bwrap_available: probe.report.active,
        stateful_dir: terminals.statefulDir,
        port,
        host: options.host,
        pid: process.pid,
        version: SERVER_VERSION,
        tools: [...tools],
        auth: options.token !== undefined,
        isolation: probe.report,
        limits: {
          max_output_chars: limits.maxOutputChars,
          max_file_size: limits.maxFileSize,
          max_artifact_bytes: limits.maxArtifactBytes,
          max_artifact_entries: limits.maxArtifactEntries,
          max_body_bytes: limits.maxBodyBytes,
          max_timeout_seconds: limits.maxTimeoutSeconds,
        },
        slot_limits: layout.limits ? describeLimits(layout.limits, boot.slotUsers[0] !== undefined) : null,
        exec_mode: resolvedMode.mode,
        ...(resolvedMode.reason !== null ? { exec_mode_reason: resolvedMode.reason } : {}),
        uptime_ms: Math.round(performance.now() - started),
      };
      return { status: 200, body };
    },
    'GET /slots': async () => ({ status: 200, body: { slots: orderedSlots.map((s) => s.status()) } satisfies SlotsResponse }),
    'POST /execute': async (req, gone, res) => {
      const body = await readJsonBody(req, limits.maxBodyBytes);
      const parsed = validateExecuteRequest(body);
      if (wantsStream(req, body)) {
        const stream = new ExecuteStream(res, closing ? { connection: 'close' } : {});
        const result = parsed.ok ? await executeOne(parsed.value, gone, stream.onOutput) : invalidExecuteRequest(body, parsed.error);
        stream.end(result.status, result.response);
        return undefined;
      }
      const result = parsed.ok ? await executeOne(parsed.value, gone) : invalidExecuteRequest(body, parsed.error);
      return { status: result.status, body: result.response };
    },
    'POST /batch': async (req, gone) => {
      const body = await readJsonBody(req, limits.maxBodyBytes);
      if (!Array.isArray(body)) throw new HttpError(400, 'invalid_request', `Expected the body to be a JSON array of execute requests, got ${body === null ? 'null' : typeof body}`);
      const answers: ExecuteResponse[] = await Promise.all(
        body.map(async (item, i) => {
          const parsed = validateExecuteRequest(item, `[${i}].`);
          return (parsed.ok ? await executeOne(parsed.value, gone) : invalidExecuteRequest(item, parsed.error)).response;
        }),
      );
      return { status: 200, body: answers };
    },
    'POST /reset': async (req) => {
      const { slot_id } = unwrap(validateResetRequest(await readJsonBody(req, limits.maxBodyBytes)));
      const slot = slotFor(slot_id);
      slot.abortRunning(`slot ${slot_id} is being reset`);
      await slot.run(null, async () => {
        // Nothing of the old sandbox may write into the workspace while it is emptied.
        await Promise.all([standingSandboxes.stop(slot_id, `slot ${slot_id} is being reset`), terminals.stop(slot_id)]);
        await slot.empty();
        // The reset answers once the new sandbox is up: the slot's next holder (a pool hands a
        // just-reset slot out first) runs its first command at once instead of waiting for it.
        // Bounded: a sandbox that neither comes up nor dies must not hold the reset forever.
        const started = closing ? undefined : (await standingOf(slot))?.start();
        if (started) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([started, new Promise((resolve) => (timer = setTimeout(resolve, RESET_WAITS_FOR_SANDBOX_MS)))]);
          clearTimeout(timer);
        }
      });
      return { status: 200, body: { success: true, output: `Reset workspace for ${slot_id}`, error: '', execution_id: null, metadata: {} } satisfies ExecuteResponse };
    },
    'POST /artifacts/read': async (req) => {
      const request = unwrap(validateArtifactReadRequest(await readJsonBody(req, limits.maxBodyBytes)));
      const slot = slotFor(request.slot_id);
      return slot.run(null, () => readArtifact(slot.dir, request, limits));
    },
    'POST /artifacts/list': async (req) => {
      const request = unwrap(validateArtifactListRequest(await readJsonBody(req, limits.maxBodyBytes)));
      const slot = slotFor(request.slot_id);
      return slot.run(null, () => listArtifacts(slot.dir, request, limits));
    },
    'POST /artifacts/archive': async (req) => {
      const request = unwrap(validateArtifactArchiveRequest(await readJsonBody(req, limits.maxBodyBytes)));
      const slot = slotFor(request.slot_id);
      return slot.run(null, () => archiveArtifacts(slot.dir, request, limits));
    },
  };
  const paths = [...new Set(Object.keys(routes).map((key) => key.split(' ')[1]!))];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // While shutting down, answers close their connection so server.close() is not held by keep-alive.
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void =>
      sendJson(res, status, body, closing ? { ...headers, connection: 'close' } : headers);
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const route = routes[`${req.method} ${path}`];
    try {
      hostGuard.check(req);
      if (!route) {
        if (paths.includes(path)) {
          const allowed = Object.keys(routes).filter((key) => key.endsWith(` ${path}`)).map((key) => key.split(' ')[0]!);
          throw new HttpError(405, 'method_not_allowed', `Method ${req.method} not allowed on ${path} (use ${allowed.join(', ')})`, { allow: allowed.join(', ') });
        }
        throw new HttpError(404, 'no_route', `No endpoint ${req.method} ${path} (endpoints: ${Object.keys(routes).join(', ')})`);
      }
      if (overCap.has(req.socket)) {
        throw new HttpError(503, 'too_many_connections', `Too many connections: this sandbox server serves at most ${http.maxConnections} at once (retry, or reuse a keep-alive connection)`, { 'retry-after': '1', connection: 'close' });
      }
      if (req.method === 'POST') requireJsonContentType(req);
      if (options.token !== undefined && path !== '/health' && !bearerMatches(req.headers.authorization, options.token)) {
        throw new HttpError(401, 'unauthorized', `Missing or wrong bearer token for ${req.method} ${path} (send Authorization: Bearer <token>)`, { 'www-authenticate': 'Bearer' });
      }
      if (closing && path !== '/health') throw new HttpError(503, 'shutting_down', 'The sandbox server is shutting down', { connection: 'close' });
      const gone = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) gone.abort(new Error(`the client of ${req.method} ${path} closed its connection`));
      });
      const answer = await route(req, gone.signal, res);
      if (answer) send(answer.status, answer.body);
    } catch (error) {
      if (error instanceof HttpError) {
        // An answer that closes the connection would reset a client still sending its body:
        // read that body first (bounded in bytes and time).
        if (error.headers.connection === 'close') await drainBody(req, limits.maxBodyBytes, 1_000);
        send(error.status, errorBody(error.errorCode, error.message), error.headers);
        // Answered before the body was read (413, refusals): read the rest so a client still
        // sending sees this answer rather than a reset.
        discardRestOfBody(req, Math.max(limits.maxBodyBytes, 64 * 1024 * 1024));
        return;
      }
      log(`${req.method} ${path} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) send(500, errorBody('internal', `Internal error in ${req.method} ${path}: ${(error as Error).message}`));
      else res.destroy();
    }
  };

  // Loaded here, after the probe was spawned, so loading node:http overlaps the probe; through
  // require, which is synchronous and skips the ESM loader (import() cost ~2 ms more at boot).
  const { createServer } = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  const server: Server = createServer(
    {
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      keepAliveTimeout: http.keepAliveTimeoutMs,
      // Node enforces the two timeouts above on this tick; short ones (tests) need a short tick.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(Math.min(http.headersTimeoutMs, http.requestTimeoutMs || Infinity) / 4))),
    },
    (req, res) => void handle(req, res),
  );
  // Beyond the cap a connection still gets an answer (503, through handle) rather than a reset;
  // beyond twice the cap Node drops it on accept, so a flood cannot exhaust file descriptors.
  server.maxConnections = http.maxConnections * 2;
  server.on('connection', (socket) => {
    openConnections++;
    socket.once('close', () => openConnections--);
    if (openConnections > http.maxConnections) {
      overCap.add(socket);
      // A connection over the cap that sends no request is not kept for the headers timeout.
      socket.setTimeout(Math.min(http.headersTimeoutMs, 2_000), () => socket.destroy());
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://${connectableHost(options.host)}:${port}`;
  writeReadyFile(dataDir, { port, host: options.host, pid: process.pid, version: SERVER_VERSION, url, data_dir: dataDir, slots: options.slots });
  log(`listening on ${url} with ${options.slots} slots in ${dataDir}, ${performance.now().toFixed(1)} ms after process start`);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const slot of orderedSlots) slot.close('the sandbox server is shutting down');
      const standingStopped = standingSandboxes.stopAll('the sandbox server is shutting down');
      server.closeIdleConnections();
      // Answers in flight finish quickly once their commands are killed; do not wait forever.
      const grace = setTimeout(() => server.closeAllConnections(), 2_000);
      await stopped;
      clearTimeout(grace);
      await Promise.all([standingStopped, terminals.stopAll()]);
      await isolation.catch(() => undefined);
      await removeReadyFile(dataDir);
    })();
    return closed;
  };

  return { url, port, host: options.host, dataDir, isolation, close };
}
