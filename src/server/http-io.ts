import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** A request refused before any tool ran: answered with `status` and a JSON error body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Refuses a POST whose body is not declared JSON (415). A browser page may send `text/plain`,
 * `application/x-www-form-urlencoded` or `multipart/form-data` to any address without a CORS
 * preflight; `application/json` needs one, which this server never grants.
 */
export function requireJsonContentType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  const essence = type?.split(';')[0]!.trim().toLowerCase();
  if (essence !== 'application/json') {
    throw new HttpError(
      415,
      'unsupported_media_type',
      `Expected Content-Type: application/json for ${req.method} ${(req.url ?? '/').split('?')[0]}, got ${type === undefined ? 'none' : `\`${type}\``}`,
      { accept: 'application/json' },
    );
  }
}

/**
 * Reads a JSON body of at most `maxBytes`. 413 past the cap (checked against Content-Length first,
 * then while streaming), 400 when it is not JSON. After a 413 the rest of the body is still
 * being read (see discardRestOfBody).
 */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new HttpError(413, 'body_too_large', `Request body too large: ${declared} bytes (max ${maxBytes})`);
  }
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(new HttpError(413, 'body_too_large', `Request body too large: more than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', resolve);
    req.once('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'invalid_json', 'Invalid JSON: the request body is empty');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `Invalid JSON: ${(error as Error).message}`);
  }
}

/** How long a half-closed connection keeps being read before it is destroyed. */
const LINGER_MS = 2_000;

/**
 * Keeps reading (and dropping) what is left of the request body after an early answer (a 413),
 * so a client still sending sees the answer instead of a reset: closing a socket with unread
 * data makes the kernel send RST, and undici and Node's fetch then fail with EPIPE or
 * ECONNRESET before they read the answer. The connection stays usable when the body ends within
 * `maxBytes`; past that the server half-closes it (FIN after the answer) and reads on for
 * `lingerMs` before destroying it: Apache's "lingering close".
 */
export function discardRestOfBody(req: IncomingMessage, maxBytes: number, lingerMs = LINGER_MS): void {
  if (req.complete) return;
  let dropped = 0;
  const onData = (chunk: Buffer): void => {
    dropped += chunk.length;
    if (dropped > maxBytes) {
      req.off('data', onData);
      closeGracefully(req.socket, lingerMs);
    }
  };
  req.on('data', onData);
  req.resume();
}

/** Reads and drops the rest of the body; resolves at its end, past `maxBytes`, or after `timeoutMs`. */
export function drainBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<void> {
  if (req.complete || req.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let dropped = 0;
    const done = (): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', done);
      req.off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      dropped += chunk.length;
      if (dropped > maxBytes) done();
    };
    const timer = setTimeout(done, timeoutMs);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.resume();
  });
}

/** Half-closes `socket` after what was written, reads on and destroys it after `lingerMs`. */
export function closeGracefully(socket: Socket, lingerMs = LINGER_MS): void {
  if (socket.destroyed) return;
  socket.end();
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Sends `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}
