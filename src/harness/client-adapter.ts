import { SandboxClient, SandboxHttpError } from '../client/index.js';
import { slotId } from '../protocol/slot-id.js';
import type { ExecuteResponse } from '../protocol/types.js';
import type { BashOutcome, FileOutcome, SandboxApi } from './sandbox-api.js';

const STDERR_MARKER = '\n[stderr]\n';

/** A SandboxApi that owns its client: close it when the placement goes. */
export interface ClosableSandboxApi extends SandboxApi {
  close(): Promise<void>;
}

/**
 * The checks' view of a sandbox server, over the project's SandboxClient: slot numbers become
 * wire ids (`slotId`), the Atropos `output` is split back into stdout and stderr, and a refused file call
 * comes back as a value with its HTTP status (a check asserts 403 on a path escape) instead of
 * an exception.
 */
export function sandboxApiFor(target: { url: string; token?: string }): ClosableSandboxApi {
  const client = new SandboxClient(target.url, { token: target.token });
  return adaptClient(client, () => client.close());
}

/** Adapts an existing client (not closed unless `close` says so). */
export function adaptClient(client: SandboxClient, close: () => Promise<void> = async () => undefined): ClosableSandboxApi {
  return {
    // HealthResponse is the server's exact shape; the checks read it as an open record.
    health: async (options) => ({ ...(await client.health(options)) }),
    bash: async (slot, command, options = {}) =>
      toBashOutcome(await client.bash(slotId(slot), command, { signal: options.signal, timeout: options.timeoutSec })),
    batch: async (calls, options) => {
      const answers = await client.batch(
        calls.map((c) => ({ slot_id: slotId(c.slot), tool: 'bash', args: { command: c.command }, ...(c.timeoutSec ? { timeout: c.timeoutSec } : {}) })),
        options,
      );
      return answers.map(toBashOutcome);
    },
    readFile: (slot, path, options) =>
      fileOutcome(async () => {
        const content = await client.readFile(slotId(slot), path, options);
        return { content, raw: content };
      }),
    writeFile: (slot, path, content, options) =>
      fileOutcome(async () => {
        const raw = await client.writeFile(slotId(slot), path, content, options);
        return { content: raw.output, raw };
      }),
    reset: async (slot, options) => {
      await client.reset(slotId(slot), options);
    },
    bashStateful: async (slot, command, options = {}) =>
      toBashOutcome(await client.bashStateful(slotId(slot), command, { signal: options.signal, timeout: options.timeoutSec })),
    tmux: async (slot, args, options = {}) => {
      try {
        const answer = await client.tmux(slotId(slot), args, { signal: options.signal, timeout: options.timeoutSec });
        return { success: answer.success, output: answer.output, error: answer.error, status: 200, metadata: answer.metadata, raw: answer };
      } catch (error) {
        if (!(error instanceof SandboxHttpError) || error.statusCode === 0) throw error;
        const body = (error.body ?? {}) as Partial<ExecuteResponse>;
        return { success: false, output: body.output ?? '', error: typeof body.error === 'string' ? body.error : error.message, status: error.statusCode, metadata: body.metadata ?? {}, raw: error.body };
      }
    },
    close,
  };
}

/** Splits Atropos `output` (`stdout\n[stderr]\nstderr`, trimmed as a whole) back into its streams. */
export function toBashOutcome(response: ExecuteResponse): BashOutcome {
  const output = response.output ?? '';
  const marker = output.indexOf(STDERR_MARKER);
  const exit = response.metadata?.exit_code;
  return {
    success: response.success,
    output,
    // Only the whole output is trimmed: stdout keeps its final newline before the marker.
    stdout: marker === -1 ? output : output.slice(0, marker).replace(/\n$/, ''),
    stderr: marker === -1 ? '' : output.slice(marker + STDERR_MARKER.length),
    exitCode: typeof exit === 'number' ? exit : null,
    timedOut: response.metadata?.timeout === true,
    raw: response,
  };
}

async function fileOutcome(call: () => Promise<{ content: string; raw: unknown }>): Promise<FileOutcome> {
  try {
    const { content, raw } = await call();
    return { ok: true, content, raw };
  } catch (error) {
    if (error instanceof SandboxHttpError && error.statusCode !== 0) {
      const body = error.body as Partial<ExecuteResponse> | undefined;
      return { ok: false, status: error.statusCode, error: typeof body?.error === 'string' ? body.error : error.message, raw: error.body };
    }
    throw error;
  }
}
