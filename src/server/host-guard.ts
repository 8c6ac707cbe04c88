import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-io.js';

/**
 * Refuses requests a web browser could have been made to send: a hostile page on the same
 * machine can POST to `127.0.0.1:PORT` (a `text/plain` form needs no preflight), and through DNS
 * rebinding its own name can come to resolve to that address. Such requests carry the page's
 * `Origin`, or a `Host` with the attacker's DNS name. Clients that are not browsers (undici, the
 * Atropos Python clients, curl) send no `Origin` and dial an IP literal or a known name.
 *
 * Accepted `Host` values (any port: Docker and Nomad map host port X to container port Y, and the
 * harness dials 127.0.0.1:X): an IP literal, `localhost`, this machine's hostname (long and
 * short: a Slurm leg on a real cluster dials the node by name), the name the server was told to
 * bind, and the names an operator added. An absent `Host` (HTTP/1.0) is accepted: browsers always
 * send one.
 */
export class HostGuard {
  readonly #names: ReadonlySet<string>;

  constructor(bindHost: string, allowedHosts: readonly string[] = []) {
    const self = hostname().toLowerCase();
    const names = ['localhost', self, self.split('.')[0]!, ...allowedHosts.map((h) => h.toLowerCase())];
    if (bindHost && isIP(bindHost) === 0) names.push(bindHost.toLowerCase());
    this.#names = new Set(names.filter((n) => n !== ''));
  }

  /** The names accepted besides IP literals (for messages and `/health`). */
  get names(): string[] {
    return [...this.#names];
  }

  /** Throws a 403 `HttpError` when `Host` or `Origin` is foreign. */
  check(req: IncomingMessage): void {
    const host = req.headers.host;
    if (host !== undefined && !this.#accepts(hostnameOf(host))) {
      throw new HttpError(
        403,
        'foreign_host',
        `Refused: Host \`${host}\` is not a name of this sandbox server (accepted: IP addresses, ${this.names.join(', ')}; add a name with --allow-host)`,
      );
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, host)) {
      throw new HttpError(403, 'foreign_origin', `Refused: Origin \`${origin}\` is not this sandbox server (${host === undefined ? 'no Host' : `http://${host}`}); browsers may not drive it from other pages`);
    }
  }

  #accepts(name: string): boolean {
    return isIP(name) !== 0 || this.#names.has(name);
  }
}

/** `example.org` of `example.org:8080`, `::1` of `[::1]:8080`, lower-cased. */
function hostnameOf(host: string): string {
  const trimmed = host.trim().toLowerCase();
  if (trimmed.startsWith('[')) {
    const end = trimmed.indexOf(']');
    return end === -1 ? trimmed : trimmed.slice(1, end);
  }
  const colon = trimmed.lastIndexOf(':');
  return colon === -1 ? trimmed : trimmed.slice(0, colon);
}

/** Whether `origin` is `http://<host>` (the page was served by this very server). `null` never is. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && url.host === new URL(`http://${host.trim()}`).host;
  } catch {
    return false;
  }
}
