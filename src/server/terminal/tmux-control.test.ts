import { describe, expect, it } from 'vitest';
import { decodeOutput, tmuxQuote } from './tmux-control.js';

describe('tmux control mode text', () => {
  it('quotes any argument for a command line: control bytes as octal, quotes and dollars escaped', () => {
    expect(tmuxQuote('echo "$HOME" \\ ok')).toBe('"echo \\"\\$HOME\\" \\\\ ok"');
    expect(tmuxQuote('a\nb\x1b\x7f')).toBe('"a\\012b\\033\\177"');
    expect(tmuxQuote('héllo ✓')).toBe('"héllo ✓"');
  });

  it('decodes %output data: octal escapes back to bytes, the rest raw', () => {
    expect(decodeOutput(Buffer.from('hi\\015\\012\\134x')).toString('latin1')).toBe('hi\r\n\\x');
    expect(decodeOutput(Buffer.from('é ok')).toString('utf8')).toBe('é ok');
  });
});
