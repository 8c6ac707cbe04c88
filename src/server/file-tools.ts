import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { chownPath, type SlotUser } from './slot-user.js';
import { toolFailure, toolSuccess, type ToolResult } from './tool-result.js';
import { resolveWorkspacePath } from './workspace-path.js';

function requirePath(args: Record<string, unknown>): string | ToolResult {
  const path = args.path;
  if (typeof path !== 'string' || path === '') {
    return toolFailure(400, `Expected \`args.path\` to be a non-empty string, got ${JSON.stringify(path) ?? 'undefined'}`, { error_code: 'invalid_args' });
  }
  return path;
}

/** The `read_file` tool: a UTF-8 file of at most `maxFileSize` bytes inside the slot. */
export async function readFileTool(slotRoot: string, args: Record<string, unknown>, maxFileSize: number): Promise<ToolResult> {
  const path = requirePath(args);
  if (typeof path !== 'string') return path;
  const resolved = await resolveWorkspacePath(slotRoot, path);
  if (!resolved.ok) return toolFailure(resolved.code === 'path_escape' ? 403 : 400, resolved.error, { error_code: resolved.code });
  let info;
  try {
    info = await stat(resolved.absolute);
  } catch {
    return toolFailure(404, `File not found: ${path}`, { error_code: 'not_found', path: resolved.absolute });
  }
  if (!info.isFile()) return toolFailure(400, `Not a file: ${path}`, { error_code: 'not_a_file', path: resolved.absolute });
  if (info.size > maxFileSize) {
    return toolFailure(413, `File too large: ${info.size} bytes (max ${maxFileSize})`, { error_code: 'too_large', path: resolved.absolute, size: info.size });
  }
  // O_NONBLOCK: a FIFO swapped in after the stat above must not hang the slot; fstat decides.
  const handle = await open(resolved.absolute, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await handle.stat()).isFile()) return toolFailure(400, `Not a file: ${path}`, { error_code: 'not_a_file', path: resolved.absolute });
    const content = await handle.readFile({ encoding: 'utf8' });
    return toolSuccess(content, { path: resolved.absolute, size: info.size });
  } finally {
    await handle.close();
  }
}

/** The `write_file` tool: writes `content` (at most `maxFileSize` characters), creating parent directories. */
export async function writeFileTool(slotRoot: string, args: Record<string, unknown>, maxFileSize: number, owner?: SlotUser): Promise<ToolResult> {
  const path = requirePath(args);
  if (typeof path !== 'string') return path;
  const content = args.content;
  if (typeof content !== 'string') {
    return toolFailure(400, `Expected \`args.content\` to be a string, got ${content === undefined ? 'undefined' : typeof content}`, { error_code: 'invalid_args' });
  }
  if (content.length > maxFileSize) {
    return toolFailure(413, `Content too large: ${content.length} characters (max ${maxFileSize})`, { error_code: 'too_large', size: content.length });
  }
  const resolved = await resolveWorkspacePath(slotRoot, path);
  if (!resolved.ok) return toolFailure(resolved.code === 'path_escape' ? 403 : 400, resolved.error, { error_code: resolved.code });
  try {
    const firstCreated = await mkdir(dirname(resolved.absolute), { recursive: true });
    // The slot's commands run as the slot's uid: what the server creates for them is theirs.
    if (firstCreated !== undefined && owner) {
      for (let dir = dirname(resolved.absolute); dir.length >= firstCreated.length; dir = dirname(dir)) chownPath(dir, owner);
    }
    // O_NOFOLLOW: a dangling symlink named `path` could otherwise create a file outside the slot.
    // O_NONBLOCK: opening a FIFO for writing would wait for a reader forever (ENXIO without one);
    // fstat refuses anything but a regular file before a byte is written. O_TRUNC is left out of
    // the open so nothing is truncated before the check.
    const handle = await open(resolved.absolute, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
    try {
      if (!(await handle.stat()).isFile()) return toolFailure(400, `Not a regular file: ${path}`, { error_code: 'not_a_file', path: resolved.absolute });
      await handle.truncate(0);
      await handle.writeFile(content, 'utf8');
      if (owner) await handle.chown(owner.uid, owner.gid);
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENXIO' || code === 'EOPNOTSUPP') return toolFailure(400, `Not a regular file: ${path} (a FIFO or socket)`, { error_code: 'not_a_file' });
    if (code === 'ELOOP') return toolFailure(403, `Access denied: ${path} is a symlink`, { error_code: 'path_escape' });
    if (code === 'EISDIR') return toolFailure(400, `Not a file: ${path} is a directory`, { error_code: 'not_a_file' });
    if (code === 'ENOTDIR' || code === 'EEXIST') return toolFailure(400, `Cannot create ${path}: a parent is not a directory`, { error_code: 'not_a_file' });
    throw error;
  }
  const bytes = Buffer.byteLength(content);
  return toolSuccess(`Successfully wrote ${bytes} bytes to ${path}`, { path: resolved.absolute, size: bytes });
}
