import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { launchArgv } from './local-scheduler.js';
import { shellWord, wrapInShell } from './shell-wrapper.js';

/** Runs the wrapped argv through the real /bin/sh and returns the argv the program received. */
function receivedArgv(argv: string[], env: Record<string, string>): string[] {
  const wrapped = wrapInShell([process.execPath, '-e', 'process.stdout.write(JSON.stringify(process.argv.slice(1)))', '--', ...argv]);
  return JSON.parse(execFileSync(wrapped[0]!, wrapped.slice(1), { env, encoding: 'utf8' }));
}

describe('wrapInShell', () => {
  it('renders placeholders as variables and expands $VARS like a Nomad raw_exec task', () => {
    expect(wrapInShell(['node', 'server.mjs', '--port', '{{port}}'])).toEqual([
      '/bin/sh',
      '-c',
      'exec "node" "server.mjs" "--port" "${HPC_SANDBOX_PORT}"',
      'hpc-sandbox-task',
    ]);
    const got = receivedArgv(['--port', '{{port}}', '--data-dir', '{{dataDir}}', '--bind', '$NOMAD_ALLOC_DIR/data:/data', '${NOMAD_PORT_http}'], {
      HPC_SANDBOX_PORT: '0',
      HPC_SANDBOX_DATA_DIR: '/alloc/data dir',
      NOMAD_ALLOC_DIR: '/alloc',
      NOMAD_PORT_http: '8080',
    });
    expect(got).toEqual(['--port', '0', '--data-dir', '/alloc/data dir', '--bind', '/alloc/data:/data', '8080']);
  });

  it('keeps everything else literal: no command substitution, globbing or splitting', () => {
    const tricky = ['$(touch /tmp/pwned)', '`id`', '*', 'a b', 'quote"d', 'back\\slash', '100$', "it's", ''];
    expect(receivedArgv(tricky, {})).toEqual(tricky);
    expect(shellWord('$(x)')).toBe('"\\$(x)"');
  });
});

describe('launchArgv', () => {
  const values = { port: '0', dataDir: '/alloc/data', bindHost: '127.0.0.1' };
  it('starts the program directly when there is nothing for a shell to expand', () => {
    expect(launchArgv(['node', 'server.mjs', '--port', '{{port}}', '--data-dir', '{{dataDir}}'], values)).toEqual([
      'node', 'server.mjs', '--port', '0', '--data-dir', '/alloc/data',
    ]);
  });
  it('goes through the shell wrapper as soon as an argument names a variable', () => {
    expect(launchArgv(['ch-run', '-b', '$NOMAD_ALLOC_DIR/data:/data', '--port', '{{port}}'], values)[0]).toBe('/bin/sh');
  });
});
