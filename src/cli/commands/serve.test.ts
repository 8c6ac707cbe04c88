import { describe, expect, it } from 'vitest';
import { serveCommand } from './serve.js';

describe('serveCommand', () => {
  it('offers the server flags with the server defaults', () => {
    const command = serveCommand();
    expect(command.name()).toBe('serve');
    const flags = Object.fromEntries(command.options.map((o) => [o.long, o.defaultValue]));
    expect(flags).toEqual({ '--port': '8080', '--host': '127.0.0.1', '--slots': '4', '--data-dir': undefined, '--token-file': undefined, '--isolation': undefined, '--exec-mode': undefined, '--expose': [], '--pass-env': [], '--uid-base': undefined, '--max-procs': undefined, '--max-memory': undefined, '--max-file-size': undefined, '--tmp-size': undefined, '--allow-host': [], '--max-connections': undefined, '--headers-timeout-ms': undefined, '--request-timeout-ms': undefined });
  });

  it('refuses an isolation mode it does not know, before starting anything', async () => {
    const command = serveCommand().exitOverride().configureOutput({ writeErr: () => {} });
    await expect(command.parseAsync(['--isolation', 'maybe'], { from: 'user' })).rejects.toThrowError(/Allowed choices are auto, require, off/);
  });

  it('reports a bad value as a ConfigError naming the flag', async () => {
    const command = serveCommand().exitOverride();
    await expect(command.parseAsync(['--slots', '0'], { from: 'user' })).rejects.toMatchObject({
      code: 'HPCSB_CONFIG_INVALID',
      message: 'Expected `--slots` to be an integer from 1 to 1024, got `0`',
    });
  });
});
