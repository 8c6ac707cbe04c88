import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServeArgs, ServeOptionsError } from './options.js';

describe('parseServeArgs', () => {
  it('applies the defaults (Atropos data dir rule)', () => {
    expect(parseServeArgs([], {})).toEqual({ port: 8080, host: '127.0.0.1', slots: 4, dataDir: '/data', isolation: 'auto' });
    expect(parseServeArgs([], { NOMAD_ALLOC_DIR: '/alloc' })).toMatchObject({ dataDir: '/alloc/data' });
  });

  it('reads flags in both spellings and the environment', () => {
    const options = parseServeArgs(['--port=0', '--host', '0.0.0.0', '--slots', '8', '--data-dir', '/d', '--isolation', 'require'], { HPC_SANDBOX_TOKEN: 't' });
    expect(options).toEqual({ port: 0, host: '0.0.0.0', slots: 8, dataDir: '/d', isolation: 'require', token: 't' });
    expect(parseServeArgs([], { HPC_SANDBOX_ISOLATION: 'off' })).toMatchObject({ isolation: 'off' });
    expect(parseServeArgs(['--help'], {})).toBe('help');
  });

  it('reads --exec-mode standing|spawn and refuses anything else', () => {
    expect(parseServeArgs(['--exec-mode', 'spawn'], {})).toMatchObject({ execMode: 'spawn' });
    expect(parseServeArgs(['--exec-mode=standing'], {})).toMatchObject({ execMode: 'standing' });
    expect(parseServeArgs([], {})).not.toHaveProperty('execMode');
    expect(() => parseServeArgs(['--exec-mode', 'fork'], {})).toThrowError('Expected `--exec-mode` to be standing or spawn, got `fork`');
  });

  it('reads the token file, which wins over the environment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-opt-'));
    try {
      await writeFile(join(dir, 'token'), 'from-file\n');
      expect(parseServeArgs(['--token-file', join(dir, 'token')], { HPC_SANDBOX_TOKEN: 'env' })).toMatchObject({ token: 'from-file', tokenFile: join(dir, 'token') });
      await writeFile(join(dir, 'empty'), '  \n');
      expect(() => parseServeArgs(['--token-file', join(dir, 'empty')], {})).toThrowError(`\`--token-file\` ${join(dir, 'empty')} is empty`);
      expect(() => parseServeArgs(['--token-file', join(dir, 'missing')], {})).toThrowError(/Cannot read `--token-file`.*ENOENT/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--port', '70000'], 'Expected `--port` to be an integer from 0 to 65535, got `70000`'],
    [['--slots', '0'], 'Expected `--slots` to be an integer from 1 to 1024, got `0`'],
    [['--slots', 'two'], 'Expected `--slots` to be an integer from 1 to 1024, got `two`'],
    [['--isolation', 'maybe'], 'Expected `--isolation` (or HPC_SANDBOX_ISOLATION) to be auto, require or off, got `maybe`'],
    [['--verbose'], 'Unknown option `--verbose`'],
    [['--port'], 'Option `--port` needs a value'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseServeArgs(argv, {})).toThrowError(ServeOptionsError);
    expect(() => parseServeArgs(argv, {})).toThrowError(message);
  });
});
