import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeOutput, TmuxControl, tmuxQuote } from './tmux-control.js';

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

describe('TmuxControl', () => {
  // `cat` plays tmux: each "command" written is echoed back, so a test writes what tmux would say.
  it('matches each answer block to its command, hands %output to the pane callback and ignores a fake %end', async () => {
    const output: Array<[string, string]> = [];
    let closedBecause: string | undefined;
    const control = new TmuxControl(spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] }), (pane, data) => output.push([pane, data.toString('latin1')]), (why) => (closedBecause = why));
    const first = control.command('%begin 1 5 1\nfirst line\n%end 1 5 1');
    const second = control.command('%output %3 a\\015\\012b\n%begin 1 6 0\nnot ours\n%end 1 6 0\n%begin 1 7 1\n%end 9 9 9\nbar\n%error 1 7 1');
    expect(await first).toEqual({ ok: true, lines: ['first line'] });
    expect(await second).toEqual({ ok: false, lines: ['%end 9 9 9', 'bar'] });
    expect(output).toEqual([['%3', 'a\r\nb']]);
    const pending = control.command('%begin 1 8 1');
    control.kill();
    expect(await pending).toEqual({ ok: false, lines: ['stopped'] });
    expect(closedBecause).toBe('stopped');
    expect(control.closed).toBe(true);
  });
});
