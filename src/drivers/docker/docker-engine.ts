import { createReadStream } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { SandboxError } from '../../errors.js';
import { logger } from '../../common/logger.js';

const log = logger('driver:docker:engine');

/** Where the Docker Engine API listens: a unix socket (the default) or a TCP address. */
export type DockerEndpoint = { socketPath: string; display: string } | { host: string; port: number; display: string };

/** `DOCKER_HOST` (`unix:///path` or `tcp://host:port`) or `/var/run/docker.sock`. */
export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith('tcp://')) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375), display: dockerHost };
  }
  const socketPath = dockerHost ? dockerHost.replace(/^unix:\/\//, '') : '/var/run/docker.sock';
  return { socketPath, display: socketPath };
}

/** What `GET /version` answers (the fields used here). */
export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  Os?: string;
  Arch?: string;
  Components?: Array<{ Name: string; Version?: string }>;
}

/** The Docker Engine API answered with an error status, or could not be reached. */
export class DockerEngineError extends SandboxError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly statusCode: number | undefined,
    readonly body: string,
    options?: { cause?: unknown },
  ) {
    super(
      'HPCSB_COMMAND_FAILED',
      `Docker Engine API ${method} ${path} ` + (statusCode === undefined ? `failed: ${body}` : `answered ${statusCode}: ${body.slice(0, 500)}`),
      options,
    );
  }
}

interface EngineRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  query?: Array<[string, string]>;
  /** A file streamed as the request body (`application/x-tar`). */
  bodyFile?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * A small client of the Docker Engine HTTP API over its socket: just what detection and the offline
 * image build need (version, image inspect/import/tag/remove). No registry is ever contacted.
 */
export class DockerEngine {
  constructor(readonly endpoint: DockerEndpoint = dockerEndpoint()) {}

  async version(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<EngineVersion> {
    const r = await this.#send({ method: 'GET', path: '/version', ...options });
    return JSON.parse(r.body) as EngineVersion;
  }

  /** The image's inspect document, or undefined when the engine has no such image. */
  async inspectImage(ref: string, options: { signal?: AbortSignal } = {}): Promise<Record<string, unknown> | undefined> {
    const r = await this.#send({ method: 'GET', path: `/images/${imagePath(ref)}/json`, signal: options.signal, okStatuses: [200, 404] });
    return r.status === 404 ? undefined : (JSON.parse(r.body) as Record<string, unknown>);
  }

  /**
   * `docker import`: creates `repo:tag` from a root filesystem tar, with Dockerfile-style `changes`
   * (`ENV`, `LABEL`, `WORKDIR`, `CMD`). Returns the new image id.
   */
  async importImage(
    tarPath: string,
    target: { repo: string; tag: string; changes: string[] },
    options: { signal?: AbortSignal } = {},
  ): Promise<string> {
    const query: Array<[string, string]> = [['fromSrc', '-'], ['repo', target.repo], ['tag', target.tag]];
    for (const change of target.changes) query.push(['changes', change]);
    const r = await this.#send({ method: 'POST', path: '/images/create', query, bodyFile: tarPath, signal: options.signal, timeoutMs: 600_000 });
    // The answer is a stream of JSON messages; a failure arrives as `{"error": ...}` with status 200.
    let id = '';
    for (const line of r.body.split(/\r?\n/).filter(Boolean)) {
      const message = JSON.parse(line) as { status?: string; error?: string };
      if (message.error) throw new DockerEngineError('POST', '/images/create', r.status, message.error);
      if (message.status?.startsWith('sha256:')) id = message.status;
    }
    return id;
  }

  async tagImage(source: string, repo: string, tag: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#send({ method: 'POST', path: `/images/${imagePath(source)}/tag`, query: [['repo', repo], ['tag', tag]], signal: options.signal, okStatuses: [200, 201] });
  }

  /** Tags (`repo:tag`) of the local images whose repository is `repository`. */
  async listImageTags(repository: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const filters = JSON.stringify({ reference: [repository] });
    const r = await this.#send({ method: 'GET', path: '/images/json', query: [['filters', filters]], signal: options.signal });
    const images = JSON.parse(r.body) as Array<{ RepoTags?: string[] | null }>;
    return images.flatMap((image) => image.RepoTags ?? []).filter((tag) => tag.startsWith(`${repository}:`));
  }

  /**
   * Removes a tag (and the image when it was the last one). A missing image is not an error; an
   * image a container still uses is kept (409) and reported as `false`.
   */
  async removeImage(ref: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const r = await this.#send({ method: 'DELETE', path: `/images/${imagePath(ref)}`, signal: options.signal, okStatuses: [200, 404, 409] });
    return r.status !== 409;
  }

  #send(req: EngineRequest & { okStatuses?: number[] }): Promise<{ status: number; body: string }> {
    const search = new URLSearchParams(req.query ?? []).toString();
    const path = req.path + (search ? `?${search}` : '');
    const target = 'socketPath' in this.endpoint ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port };
    const okStatuses = req.okStatuses ?? [200];
    const signal = AbortSignal.any([...(req.signal ? [req.signal] : []), AbortSignal.timeout(req.timeoutMs ?? 10_000)]);
    log('%s %s (%s)', req.method, path, this.endpoint.display);
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => reject(new DockerEngineError(req.method, req.path, undefined, describe(error), { cause: error }));
      const outgoing = request(
        { ...target, method: req.method, path, signal, headers: req.bodyFile ? { 'content-type': 'application/x-tar', 'transfer-encoding': 'chunked' } : {} },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (okStatuses.includes(status)) resolve({ status, body });
            else reject(new DockerEngineError(req.method, req.path, status, body.trim()));
          });
        },
      );
      outgoing.on('error', fail);
      if (req.bodyFile) {
        const file = createReadStream(req.bodyFile);
        file.on('error', (error) => outgoing.destroy(error));
        file.pipe(outgoing);
      } else {
        outgoing.end();
      }
    });
  }
}

/** Image references go into the URL path as the docker CLI sends them (the slash unescaped). */
function imagePath(ref: string): string {
  if (!/^[\w][\w.\-/:@]*$/.test(ref)) throw new TypeError(`Not a Docker image reference: \`${ref}\``);
  return ref;
}

function describe(error: Error): string {
  if (error.name === 'AbortError' || error.name === 'TimeoutError') return `no answer: ${error.message}`;
  return error.message;
}
