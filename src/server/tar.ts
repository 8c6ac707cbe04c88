/**
 * A minimal ustar writer (regular files, directories, symlinks; PAX headers for long names) so
 * the server can archive a workspace without a `tar` binary: its image holds only node, sh and
 * bwrap.
 */

import { encodeFsName, hasEscapedBytes } from './fs-name.js';

export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading slash; bytes that are not UTF-8 as `decodeFsName` writes them. */
  name: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  data?: Buffer;
  linkname?: string;
}

const BLOCK = 512;

/** Writes a name's bytes (see fs-name.ts), cut at `length`. */
function writeString(header: Buffer, offset: number, length: number, value: string): void {
  encodeFsName(value).copy(header, offset, 0, length);
}

const byteLength = (name: string): number => encodeFsName(name).length;

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(Math.max(0, Math.floor(value)).toString(8).padStart(length - 1, '0') + '\0', offset, length, 'ascii');
}

function headerBlock(name: string, prefix: string, type: string, mode: number, size: number, mtime: number, linkname: string): Buffer {
  const header = Buffer.alloc(BLOCK);
  writeString(header, 0, 100, name);
  writeOctal(header, 100, 8, mode);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, mtime);
  header.fill(' ', 148, 156);
  header.write(type, 156, 1, 'ascii');
  writeString(header, 157, 100, linkname);
  header.write('ustar\0', 257, 6, 'ascii');
  header.write('00', 263, 2, 'ascii');
  writeString(header, 265, 32, 'root');
  writeString(header, 297, 32, 'root');
  writeString(header, 345, 155, prefix);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return header;
}

function padded(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/** Splits a name into ustar's prefix (155 bytes) and name (100 bytes), or undefined when it cannot. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (byteLength(name) <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (byteLength(prefix) <= 155 && byteLength(rest) <= 100 && rest) return { prefix, name: rest };
  }
  return undefined;
}

/** One `<length> <key>=<value>\n` record; the value's bytes as the name holds them. */
function paxRecord(key: string, value: string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), encodeFsName(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** Serialises `entries` (setuid and setgid bits cleared: an archive never hands out a setuid binary) as an uncompressed tar (ends with the two zero blocks). */
export function tarArchive(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const name = entry.type === 'directory' && !entry.name.endsWith('/') ? `${entry.name}/` : entry.name;
    const linkname = entry.linkname ?? '';
    let split = splitName(name);
    const longLink = byteLength(linkname) > 100;
    if (!split || longLink) {
      // POSIX: PAX values are UTF-8 unless `hdrcharset=BINARY` says the bytes are as the file system had them.
      const binary = (!split && hasEscapedBytes(name)) || (longLink && hasEscapedBytes(linkname));
      const records = [...(binary ? [paxRecord('hdrcharset', 'BINARY')] : []), ...(split ? [] : [paxRecord('path', name)]), ...(longLink ? [paxRecord('linkpath', linkname)] : [])];
      const pax = Buffer.concat(records);
      parts.push(headerBlock('PaxHeader', '', 'x', 0o644, pax.length, entry.mtime, ''), ...padded(pax));
      split ??= { prefix: '', name: name.slice(-100) };
    }
    const data = entry.type === 'file' ? entry.data ?? Buffer.alloc(0) : Buffer.alloc(0);
    const type = entry.type === 'file' ? '0' : entry.type === 'directory' ? '5' : '2';
    parts.push(headerBlock(split.name, split.prefix, type, entry.mode & 0o1777, data.length, entry.mtime, longLink ? '' : linkname));
    if (data.length > 0) parts.push(...padded(data));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
