import { describe, expect, it } from 'vitest';
import { decodeFsName, encodeFsName } from './fs-name.js';

describe('file names that are not UTF-8', () => {
  it('keeps UTF-8 names as they are, U+FFFD included', () => {
    for (const name of ['plain.txt', 'héllo wörld', '日本語', '😀 emoji', 'real \uFFFD replacement']) {
      expect(decodeFsName(Buffer.from(name))).toBe(name);
      expect(encodeFsName(name).equals(Buffer.from(name))).toBe(true);
    }
  });

  it('escapes each undecodable byte as Python surrogateescape does', () => {
    // Latin-1 é, a lone continuation byte, an overlong '/', a UTF-16 surrogate in UTF-8, a truncated sequence.
    const cases: Array<[number[], string]> = [
      [[0x63, 0x61, 0x66, 0xe9], 'caf\uDCE9'],
      [[0x80], '\uDC80'],
      [[0xc0, 0xaf], '\uDCC0\uDCAF'],
      [[0xed, 0xa0, 0x80], '\uDCED\uDCA0\uDC80'],
      [[0xe2, 0x82, 0x41], '\uDCE2\uDC82A'],
      [[0xf4, 0x90, 0x80, 0x80], '\uDCF4\uDC90\uDC80\uDC80'],
      [[0xff, 0xc3, 0xa9], '\uDCFFé'],
    ];
    for (const [bytes, text] of cases) expect(decodeFsName(Buffer.from(bytes)), bytes.join(',')).toBe(text);
  });

  it('round-trips every byte string back to the same bytes', () => {
    const samples = [Buffer.from([0xff, 0xfe, 0x2f, 0x61]), Buffer.from('naïve\xff.txt', 'latin1'), Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xf0, 0x9f]), Buffer.from([0xef, 0xbf, 0xbd, 0x80])];
    for (let seed = 1; seed <= 300; seed++) {
      const length = seed % 17;
      samples.push(Buffer.from(Array.from({ length }, (_, i) => (seed * 131 + i * 197) % 256)));
    }
    for (const bytes of samples) expect(encodeFsName(decodeFsName(bytes)).equals(bytes), bytes.toString('hex')).toBe(true);
  });

  it('travels through JSON as \\udcXX escapes and comes back whole', () => {
    const name = decodeFsName(Buffer.from([0x6c, 0x6f, 0x67, 0xff]));
    const json = JSON.stringify({ path: name });
    expect(json).toBe('{"path":"log\\udcff"}');
    expect(encodeFsName((JSON.parse(json) as { path: string }).path).equals(Buffer.from([0x6c, 0x6f, 0x67, 0xff]))).toBe(true);
  });
});
