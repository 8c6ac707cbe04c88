/**
 * File names are bytes; the wire is JSON text. A name that is not UTF-8 is carried the way the
 * Python reference server carries it (`os.fsdecode`: UTF-8 with `surrogateescape`): each byte that
 * is not part of a well-formed UTF-8 sequence becomes the lone surrogate U+DC80..U+DCFF, which
 * JSON.stringify writes as `\udcXX`. The mapping is lossless both ways, so such a file is listed
 * and archived under its exact name instead of vanishing or being renamed to U+FFFD.
 */
import { isUtf8 } from 'node:buffer';

/** The byte count of the well-formed UTF-8 sequence at `at`, or 0 (Unicode Table 3-7). */
function sequenceLength(bytes: Buffer, at: number): number {
  const lead = bytes[at]!;
  if (lead < 0x80) return 1;
  const continuation = (offset: number, low = 0x80, high = 0xbf): boolean => {
    const byte = bytes[at + offset];
    return byte !== undefined && byte >= low && byte <= high;
  };
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const [low, high] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const [low, high] = lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

/** The name as text: UTF-8, with each undecodable byte as U+DC00 + byte. */
export function decodeFsName(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString('utf8');
  let out = '';
  for (let at = 0; at < bytes.length; ) {
    const length = sequenceLength(bytes, at);
    if (length === 0) {
      out += String.fromCharCode(0xdc00 + bytes[at]!);
      at += 1;
    } else {
      out += bytes.toString('utf8', at, at + length);
      at += length;
    }
  }
  return out;
}

const ESCAPED_BYTE = /[\uDC80-\uDCFF]/u;

/** Whether `name` carries bytes that are not UTF-8 (as `decodeFsName` escapes them). */
export function hasEscapedBytes(name: string): boolean {
  return ESCAPED_BYTE.test(name);
}

/** The bytes of a name written by `decodeFsName` (or any text): escaped bytes back, the rest UTF-8. */
export function encodeFsName(name: string): Buffer {
  if (!hasEscapedBytes(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (const char of name) {
    const code = char.codePointAt(0)!;
    if (code >= 0xdc80 && code <= 0xdcff) {
      if (run) parts.push(Buffer.from(run, 'utf8'));
      run = '';
      parts.push(Buffer.of(code - 0xdc00));
    } else {
      run += char;
    }
  }
  if (run) parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}
