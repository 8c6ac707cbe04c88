import { constants, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';

/** What a non-regular file is, in words (`a FIFO`), for error messages. */
export function describeFileType(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

export type OpenedFile =
  | { ok: true; handle: FileHandle; info: Stats; created: boolean }
  | { ok: false; code: 'not_a_file' | 'not_found' | 'path_escape'; error: string };

// O_NONBLOCK: opening a FIFO blocks until the other end opens, and a blocked open holds one of
// libuv's four threads for ever: four FIFOs and every file tool of every slot hangs. With it the
// open returns at once (read) or fails with ENXIO (write, nobody reading), and fstat says what it
// is. It changes nothing for regular files. O_NOFOLLOW: a symlink swapped in after the path was
// resolved is refused. O_NOCTTY: a terminal device never becomes the server's controlling tty.
const COMMON = constants.O_NONBLOCK | constants.O_NOFOLLOW | constants.O_NOCTTY;

/**
 * Opens `absolute` for reading or writing only if it is a regular file, without ever blocking:
 * FIFOs, sockets and devices are refused (lstat first, so a device is not even opened, then
 * fstat of the opened file, so a swap in between is caught too). `shown` is the path as the
 * client wrote it, for messages. Writing creates the file (mode 0644) and truncates it only once
 * it is known to be regular.
 */
export async function openRegularFile(absolute: string | Buffer, mode: 'read' | 'write', shown: string): Promise<OpenedFile> {
  const refuse = (what: string): OpenedFile => ({ ok: false, code: 'not_a_file', error: `Not a regular file: ${shown} is ${what}` });
  let before: Stats | undefined;
  try {
    before = await lstat(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || mode === 'read') return { ok: false, code: 'not_found', error: `File not found: ${shown}` };
  }
  if (before?.isSymbolicLink()) return { ok: false, code: 'path_escape', error: `Access denied: ${shown} is a symlink` };
  if (before && !before.isFile()) return refuse(describeFileType(before));
  let handle: FileHandle;
  try {
    handle = await open(absolute, mode === 'read' ? constants.O_RDONLY | COMMON : constants.O_WRONLY | constants.O_CREAT | COMMON, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, code: 'not_found', error: `File not found: ${shown}` };
    if (code === 'ELOOP') return { ok: false, code: 'path_escape', error: `Access denied: ${shown} is a symlink` };
    if (code === 'ENXIO') return refuse('a FIFO or a socket');
    if (code === 'EISDIR') return refuse('a directory');
    throw error;
  }
  let info: Stats;
  try {
    info = await handle.stat();
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (!info.isFile()) {
    await handle.close();
    return refuse(describeFileType(info));
  }
  if (mode === 'write') {
    try {
      await handle.truncate(0);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  return { ok: true, handle, info, created: before === undefined };
}
