import type { IncomingMessage, ServerResponse } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import type { ExecuteResponse, ExecuteStreamChunk } from '../protocol/types.js';

/** NDJSON: the media type of a streamed `/execute` answer. */
export const NDJSON = 'application/x-ndjson';

/** A streamed answer was asked for: `"stream": true` in the body or `Accept: application/x-ndjson`. */
export function wantsStream(req: IncomingMessage, body: unknown): boolean {
  return (body as { stream?: unknown } | null)?.stream === true || (req.headers.accept ?? '').includes(NDJSON);
}

/**
 * A streamed `/execute` answer: one JSON object a line, `{"type":"stdout"|"stderr","data":...}`
 * as output comes (within the output cap, split on whole UTF-8 characters), then
 * `{"type":"result", ...}` carrying the usual answer. The HTTP status is sent with the first line:
 * 200 once output flowed, else the answer's own (a refused request keeps its 400 or 404).
 */
export class ExecuteStream {
  readonly #decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string> = {},
  ) {}

  readonly onOutput = (stream: 'stdout' | 'stderr', chunk: Buffer): void => {
    const data = this.#decoders[stream].write(chunk);
    if (data) this.#line(200, { type: stream, data });
  };

  end(status: number, response: ExecuteResponse): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.#decoders[stream].end();
      if (rest) this.#line(200, { type: stream, data: rest });
    }
    this.#line(status, { type: 'result', ...response });
    this.res.end();
  }

  #line(status: number, chunk: ExecuteStreamChunk): void {
    if (!this.res.headersSent) this.res.writeHead(status, { 'content-type': `${NDJSON}; charset=utf-8`, 'cache-control': 'no-store', ...this.headers });
    this.res.write(`${JSON.stringify(chunk)}\n`);
  }
}
