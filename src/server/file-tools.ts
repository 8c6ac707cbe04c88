import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { chownPath, type SlotUser } from './slot-user.js';
import { openRegularFile } from './open-regular-file.js';
import { toolFailure, toolSuccess, type ToolResult } from './tool-result.js';
import { resolveWorkspacePath } from './workspace-path.js';

function requirePath(args: Record<string, unknown>): string | ToolResult {
  const path = args.path;
  if (typeof path !== 'string' || path === '') {
    return toolFailure(400, `Expected \`args.path\` to be a non-empty string, got ${JSON.stringify(path) ?? 'undefined'}`, { error_code: 'invalid_args' });
  }
  return path;
}

/** Status of a refused open: 403 for a symlink, 404 missing, 400 anything else. */
function refusedStatus(code: string): number {
  return code === 'path_escape' ? 403 : code === 'not_found' ? 404 : 400;
}

/**
 * The `read_file` tool: a UTF-8 file of at most `maxFileSize` bytes inside the slot. FIFOs,
 * sockets and devices are refused without blocking (see openRegularFile).
 */
export async function readFileTool(slotRoot: string, args: Record<string, unknown>, maxFileSize: number): Promise<ToolResult> {
  const path = requirePath(args);
  if (typeof path !== 'string') return path;
  const resolved = await resolveWorkspacePath(slotRoot, path);
  if (!resolved.ok) return toolFailure(resolved.code === 'path_escape' ? 403 : 400, resolved.error, { error_code: resolved.code });
  const opened = await openRegularFile(resolved.absolute, 'read', path);
  if (!opened.ok) return toolFailure(refusedStatus(opened.code), opened.error, { error_code: opened.code, path: resolved.absolute });
  const { handle, info } = opened;
  try {
    if (info.size > maxFileSize) {
      return toolFailure(413, `File too large: ${info.size} bytes (max ${maxFileSize})`, { error_code: 'too_large', path: resolved.absolute, size: info.size });
    }
    const content = await handle.readFile({ encoding: 'utf8' });
    return toolSuccess(content, { path: resolved.absolute, size: info.size });
  } finally {
    await handle.close();
  }
}

/**
 * The `write_file` tool: writes `content` (at most `maxFileSize` characters), creating parent
 * directories. Only a regular file (or a new one) is written: FIFOs, sockets and devices are
 * refused without blocking. What it creates belongs to the slot's uid (`owner`).
 */
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
    // O_NOFOLLOW inside: a dangling symlink named `path` could otherwise create a file outside the slot.
    const opened = await openRegularFile(resolved.absolute, 'write', path);
    if (!opened.ok) return toolFailure(refusedStatus(opened.code), opened.error, { error_code: opened.code, path: resolved.absolute });
    try {
      await opened.handle.writeFile(content, 'utf8');
      if (owner) await opened.handle.chown(owner.uid, owner.gid);
    } finally {
      await opened.handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR' || code === 'EEXIST') return toolFailure(400, `Cannot create ${path}: a parent is not a directory`, { error_code: 'not_a_file' });
    throw error;
  }
  const bytes = Buffer.byteLength(content);
  return toolSuccess(`Successfully wrote ${bytes} bytes to ${path}`, { path: resolved.absolute, size: bytes });
}
