import type { Stats } from 'node:fs';
import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, extname, relative, resolve, sep } from 'node:path';
import type {
  ArtifactArchiveRequest,
  ArtifactArchiveResponse,
  ArtifactEntry,
  ArtifactListRequest,
  ArtifactListResponse,
  ArtifactReadRequest,
  ArtifactReadResponse,
  ErrorResponse,
} from '../protocol/types.js';
import { decodeFsName } from './fs-name.js';
import { describeFileType, openRegularFile } from './open-regular-file.js';
import { tarArchive, type TarEntry } from './tar.js';
import { resolveWorkspacePath } from './workspace-path.js';

// node:crypto and node:zlib are imported where used: loading them at boot costs start-up time
// that most servers never get back.

/** An artifacts answer and its HTTP status. */
export interface ArtifactResult<T> {
  status: number;
  body: T | ErrorResponse;
}

export interface ArtifactLimits {
  maxArtifactBytes: number;
  maxArtifactEntries: number;
}

const MIME: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.txt': 'text/plain',
  '.log': 'text/plain',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.html': 'text/html',
  '.md': 'text/markdown',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
};

function fail(status: number, error_code: string, error: string): ArtifactResult<never> {
  return { status, body: { success: false, error, error_code } };
}

const SLASH = Buffer.from('/');

const clamp = (value: number | undefined, max: number): number => (value === undefined ? max : Math.max(1, Math.min(max, value)));

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/**
 * `path` inside the slot and what it is (symlinks followed). A dangling symlink is refused like
 * any other: 403 when it points out of the slot, else 404 naming its target.
 */
async function resolveExisting(slotRoot: string, path: string): Promise<ArtifactResult<never> | { absolute: string; info: Stats }> {
  const resolved = await resolveWorkspacePath(slotRoot, path);
  if (!resolved.ok) return fail(resolved.code === 'path_escape' ? 403 : 400, resolved.code, resolved.error);
  try {
    return { absolute: resolved.absolute, info: await stat(resolved.absolute) };
  } catch {
    const target = await readlink(resolved.absolute).catch(() => undefined);
    if (target === undefined) return fail(404, 'not_found', `Not found: ${path}`);
    const lands = resolve(dirname(resolved.absolute), target);
    if (!inside(lands, slotRoot)) return fail(403, 'path_escape', `Access denied: path outside workspace: ${path} (a symlink leads to ${lands})`);
    return fail(404, 'not_found', `Not found: ${path} (a symlink to ${target}, which does not exist)`);
  }
}

/** `/artifacts/read`: text or base64, capped at `max_bytes` (clamped to the artifact limit). */
export async function readArtifact(slotRoot: string, request: ArtifactReadRequest, limits: ArtifactLimits): Promise<ArtifactResult<ArtifactReadResponse>> {
  const found = await resolveExisting(slotRoot, request.path);
  if ('status' in found) return found;
  const { info } = found;
  if (!info.isFile()) return fail(400, 'not_a_file', `Not a regular file: ${request.path} is ${describeFileType(info)}`);
  const limit = clamp(request.max_bytes, limits.maxArtifactBytes);
  // Never blocks on a FIFO swapped in after the stat above (see openRegularFile).
  const opened = await openRegularFile(found.absolute, 'read', request.path);
  if (!opened.ok) return fail(opened.code === 'path_escape' ? 403 : opened.code === 'not_found' ? 404 : 400, opened.code, opened.error);
  const { handle } = opened;
  let data: Buffer;
  try {
    const buffer = Buffer.alloc(Math.min(limit, info.size));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    data = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const encoding = request.encoding ?? 'text';
  return {
    status: 200,
    body: {
      success: true,
      content: encoding === 'text' ? data.toString('utf8') : data.toString('base64'),
      encoding,
      truncated: info.size > limit,
      bytes: data.length,
      file_size: info.size,
      path: relative(slotRoot, found.absolute) || '.',
      mime: MIME[extname(found.absolute).toLowerCase()] ?? 'application/octet-stream',
      sha256: request.include_sha256 ? (await import('node:crypto')).createHash('sha256').update(data).digest('hex') : null,
    },
  };
}

interface WalkedEntry {
  /** Bytes, as the file system has the name (it may not be UTF-8). */
  absolute: Buffer;
  /** Relative to the slot, as `decodeFsName` writes it. */
  relative: string;
  kind: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mtimeMs: number;
  mode: number;
}

/**
 * Walks `dir` as Python's os.walk does top-down (per directory: its subdirectories, then its
 * files, both sorted; then into each subdirectory), never following symlinks. Stops after
 * `limit` entries and says whether more were left.
 */
async function walk(slotRoot: string, dir: string, recursive: boolean, limit: number, filesOnly: boolean): Promise<{ entries: WalkedEntry[]; truncated: boolean }> {
  const entries: WalkedEntry[] = [];
  const rootLength = Buffer.byteLength(slotRoot);
  const queue: Buffer[] = [Buffer.from(dir)];
  while (queue.length > 0) {
    const current = queue.shift()!;
    const names = (await readdir(current, { encoding: 'buffer' })).map((bytes) => ({ bytes, text: decodeFsName(bytes) }));
    names.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
    const dirs: WalkedEntry[] = [];
    const others: WalkedEntry[] = [];
    for (const name of names) {
      const absolute = Buffer.concat([current, SLASH, name.bytes]);
      let info;
      try {
        info = await lstat(absolute);
      } catch {
        continue;
      }
      const kind = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'directory' : info.isFile() ? 'file' : 'other';
      const entry: WalkedEntry = { absolute, relative: decodeFsName(absolute.subarray(rootLength + 1)), kind, size: info.size, mtimeMs: info.mtimeMs, mode: info.mode };
      (kind === 'directory' ? dirs : others).push(entry);
    }
    for (const entry of filesOnly ? others : [...dirs, ...others]) {
      if (entries.length >= limit) return { entries, truncated: true };
      entries.push(entry);
    }
    if (recursive) queue.unshift(...dirs.map((d) => d.absolute));
  }
  return { entries, truncated: false };
}

/** `/artifacts/list`: entries under `path` (recursive on request), symlinks listed but never followed. */
export async function listArtifacts(slotRoot: string, request: ArtifactListRequest, limits: ArtifactLimits): Promise<ArtifactResult<ArtifactListResponse>> {
  const found = await resolveExisting(slotRoot, request.path ?? '.');
  if ('status' in found) return found;
  const limit = clamp(request.max_entries, limits.maxArtifactEntries);
  const { info } = found;
  const toEntry = (e: { relative: string; kind: string; size: number; mtimeMs: number }): ArtifactEntry => {
    const entry: ArtifactEntry = { path: e.relative, is_dir: e.kind === 'directory', size: e.size, mtime: e.mtimeMs / 1000 };
    if (e.kind === 'symlink') entry.is_symlink = true;
    return entry;
  };
  if (info.isFile()) {
    return { status: 200, body: { success: true, entries: [toEntry({ relative: relative(slotRoot, found.absolute), kind: 'file', size: info.size, mtimeMs: info.mtimeMs })], truncated: false } };
  }
  if (!info.isDirectory()) return fail(400, 'not_a_file', `Unsupported path type: ${request.path}`);
  const walked = await walk(slotRoot, found.absolute, request.recursive ?? false, limit, false);
  return { status: 200, body: { success: true, entries: walked.entries.map(toEntry), truncated: walked.truncated } };
}

/**
 * `/artifacts/archive`: a tar.gz (base64, as Atropos) of the files under `path`. Symlinks that stay
 * inside the slot are stored as links; those leading out are left out. 413 past `max_bytes`.
 */
export async function archiveArtifacts(slotRoot: string, request: ArtifactArchiveRequest, limits: ArtifactLimits): Promise<ArtifactResult<ArtifactArchiveResponse>> {
  const found = await resolveExisting(slotRoot, request.path ?? '.');
  if ('status' in found) return found;
  const byteLimit = clamp(request.max_bytes, limits.maxArtifactBytes);
  const entryLimit = clamp(request.max_entries, limits.maxArtifactEntries);
  const { info } = found;
  let walked: { entries: WalkedEntry[]; truncated: boolean };
  if (info.isFile()) {
    walked = { entries: [{ absolute: Buffer.from(found.absolute), relative: relative(slotRoot, found.absolute), kind: 'file', size: info.size, mtimeMs: info.mtimeMs, mode: info.mode }], truncated: false };
  } else {
    walked = await walk(slotRoot, found.absolute, true, entryLimit, true);
  }
  const tarEntries: TarEntry[] = [];
  let rawBytes = 0;
  for (const entry of walked.entries) {
    const mtime = entry.mtimeMs / 1000;
    if (entry.kind === 'file') {
      rawBytes += entry.size;
      if (rawBytes > byteLimit * 20) {
        // Past any plausible compression ratio: stop reading before memory grows.
        return fail(413, 'too_large', `Archive too large: more than ${rawBytes} bytes of files under ${request.path ?? '.'} (max ${byteLimit} compressed)`);
      }
      const opened = await openRegularFile(entry.absolute, 'read', entry.relative);
      if (!opened.ok) continue;
      try {
        tarEntries.push({ name: entry.relative, type: 'file', mode: entry.mode, mtime, data: await opened.handle.readFile() });
      } finally {
        await opened.handle.close();
      }
    } else if (entry.kind === 'symlink') {
      let target: Buffer;
      try {
        target = await realpath(entry.absolute, { encoding: 'buffer' });
      } catch {
        continue;
      }
      if (!inside(decodeFsName(target), slotRoot)) continue;
      tarEntries.push({ name: entry.relative, type: 'symlink', mode: 0o777, mtime, linkname: decodeFsName(await readlink(entry.absolute, { encoding: 'buffer' })) });
    }
  }
  const { gzipSync } = await import('node:zlib');
  const data = gzipSync(tarArchive(tarEntries));
  if (data.length > byteLimit) {
    return { status: 413, body: { success: false, error: `Archive too large: ${data.length} bytes (max ${byteLimit})`, error_code: 'too_large', bytes: data.length } };
  }
  return {
    status: 200,
    body: { success: true, content: data.toString('base64'), encoding: 'base64', format: 'tar.gz', bytes: data.length, entry_count: tarEntries.length, truncated: walked.truncated },
  };
}
