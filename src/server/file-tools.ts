import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  const handle = await open(resolved.absolute, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const content = await handle.readFile({ encoding: 'utf8' });
    return toolSuccess(content, { path: resolved.absolute, size: info.size });
  } finally {
    await handle.close();
  }
}

/** The `write_file` tool: writes `content` (at most `maxFileSize` characters), creating parent directories. */
export async function writeFileTool(slotRoot: string, args: Record<string, unknown>, maxFileSize: number): Promise<ToolResult> {
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
    await mkdir(dirname(resolved.absolute), { recursive: true });
    // O_NOFOLLOW: a dangling symlink named `path` could otherwise create a file outside the slot.
    const handle = await open(resolved.absolute, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    try {
      await handle.writeFile(content, 'utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return toolFailure(403, `Access denied: ${path} is a symlink`, { error_code: 'path_escape' });
    if (code === 'EISDIR') return toolFailure(400, `Not a file: ${path} is a directory`, { error_code: 'not_a_file' });
    if (code === 'ENOTDIR' || code === 'EEXIST') return toolFailure(400, `Cannot create ${path}: a parent is not a directory`, { error_code: 'not_a_file' });
    throw error;
  }
  const bytes = Buffer.byteLength(content);
  return toolSuccess(`Successfully wrote ${bytes} bytes to ${path}`, { path: resolved.absolute, size: bytes });
}
