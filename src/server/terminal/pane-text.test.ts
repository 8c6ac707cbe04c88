import { describe, expect, it } from 'vitest';
import { paneText } from './pane-text.js';

describe('paneText', () => {
  it('drops escape sequences, turns CR LF into LF and keeps the last version of a rewritten line', () => {
    expect(paneText('\x1b[1;31mred\x1b[0m\r\nnext\r\n')).toBe('red\nnext\n');
    expect(paneText('\x1b]0;title\x07\x1b[?2004lok')).toBe('ok');
    expect(paneText('10%\r50%\r100%\r\ndone')).toBe('100%\ndone');
    expect(paneText('abc\b\bX')).toBe('aX');
    expect(paneText('tab\there\x01')).toBe('tab\there');
  });
});
