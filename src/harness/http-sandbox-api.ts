import { request } from 'undici';
import type { ExecuteRequest, ExecuteResponse } from '../protocol/types.js';
import { SandboxError } from '../errors.js';
import type { BashOutcome, CallOptions, FileOutcome, SandboxApi, SandboxHealth } from './sandbox-api.js';

const STDERR_MARKER = '\n[stderr]\n';
/** Each request is bounded even when the caller's signal never fires (a hung server must fail the check, not the run). */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * The checks' view of a sandbox server, spoken over the wire protocol (src/protocol) with undici.
 * It keeps HTTP statuses (a check asserts 403 on a path escape) and splits the Atropos `output`
 * back into stdout and stderr.
 */
export function httpSandboxApi(target: { url: string; token?: string }): SandboxApi {
  const call = async (method: 'GET' | 'POST', path: string, body: unknown, options: CallOptions = {}) => {
    const signal = options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (target.token) headers.authorization = `Bearer ${target.token}`;
    try {
      const response = await request(`${target.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      const text = await response.body.text();
      let json: unknown;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: response.statusCode, json, text };
    } catch (error) {
      throw new SandboxError('HPCSB_SANDBOX_HTTP', `${method} ${target.url}${path} failed: ${(error as Error).message}`, { cause: error });
    }
  };
  const expectJson = <T>(method: string, path: string, reply: { status: number; json: unknown; text: string }, ok: (s: number) => boolean): T => {
    if (!ok(reply.status) || reply.json === undefined) {
      throw new SandboxError('HPCSB_SANDBOX_HTTP', `${method} ${target.url}${path} answered ${reply.status}: ${reply.text.slice(0, 500)}`);
    }
    return reply.json as T;
  };
  const slotId = (slot: number) => `slot_${slot}`;

  return {
    async health(options) {
      return expectJson<SandboxHealth>('GET', '/health', await call('GET', '/health', undefined, options), (s) => s === 200);
    },
    async bash(slot, command, options = {}) {
      const body: ExecuteRequest = { slot_id: slotId(slot), tool: 'bash', args: { command }, ...(options.timeoutSec ? { timeout: options.timeoutSec } : {}) };
      const reply = await call('POST', '/execute', body, options);
      return toBashOutcome(expectJson<ExecuteResponse>('POST', '/execute', reply, (s) => s === 200));
    },
    async batch(calls, options) {
      const body: ExecuteRequest[] = calls.map((c) => ({
        slot_id: slotId(c.slot),
        tool: 'bash',
        args: { command: c.command },
        ...(c.timeoutSec ? { timeout: c.timeoutSec } : {}),
      }));
      const reply = await call('POST', '/batch', body, options);
      const answers = expectJson<ExecuteResponse[]>('POST', '/batch', reply, (s) => s === 200);
      return answers.map(toBashOutcome);
    },
    async readFile(slot, path, options) {
      const reply = await call('POST', '/execute', { slot_id: slotId(slot), tool: 'read_file', args: { path } } satisfies ExecuteRequest, options);
      return toFileOutcome(reply);
    },
    async writeFile(slot, path, content, options) {
      const reply = await call('POST', '/execute', { slot_id: slotId(slot), tool: 'write_file', args: { path, content } } satisfies ExecuteRequest, options);
      return toFileOutcome(reply);
    },
    async reset(slot, options) {
      expectJson('POST', '/reset', await call('POST', '/reset', { slot_id: slotId(slot) }, options), (s) => s === 200);
    },
  };
}

/** Splits Atropos `output` (`stdout\n[stderr]\nstderr`, trimmed) back into its streams. */
export function toBashOutcome(response: ExecuteResponse): BashOutcome {
  const output = response.output ?? '';
  const marker = output.indexOf(STDERR_MARKER);
  const exit = response.metadata?.exit_code;
  return {
    success: response.success,
    output,
    // The server trims the whole output only: stdout keeps its final newline before the marker.
    stdout: marker === -1 ? output : output.slice(0, marker).replace(/\n$/, ''),
    stderr: marker === -1 ? '' : output.slice(marker + STDERR_MARKER.length),
    exitCode: typeof exit === 'number' ? exit : null,
    timedOut: response.metadata?.timeout === true,
    raw: response,
  };
}

function toFileOutcome(reply: { status: number; json: unknown; text: string }): FileOutcome {
  const response = reply.json as Partial<ExecuteResponse> | undefined;
  if (reply.status === 200 && response?.success) return { ok: true, content: response.output ?? '', raw: response };
  return { ok: false, status: reply.status, error: response?.error ?? reply.text.slice(0, 500), raw: response ?? reply.text };
}
