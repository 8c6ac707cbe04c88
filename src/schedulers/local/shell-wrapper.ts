import { PLACEHOLDERS } from '../../drivers/driver.js';

/** Shell variables the wrapper environment sets for the plan placeholders. */
export const PLACEHOLDER_VARIABLES = {
  port: 'HPC_SANDBOX_PORT',
  dataDir: 'HPC_SANDBOX_DATA_DIR',
  bindHost: 'HPC_SANDBOX_BIND_HOST',
} as const;

/** `{{port}}` becomes `${HPC_SANDBOX_PORT}` and so on: the shell expands them at launch. */
export function placeholdersToVariables(arg: string): string {
  return arg
    .replaceAll(PLACEHOLDERS.port, `\${${PLACEHOLDER_VARIABLES.port}}`)
    .replaceAll(PLACEHOLDERS.dataDir, `\${${PLACEHOLDER_VARIABLES.dataDir}}`)
    .replaceAll(PLACEHOLDERS.bindHost, `\${${PLACEHOLDER_VARIABLES.bindHost}}`);
}

/**
 * Double-quotes `arg` for `sh` so that variable references (`$NAME`, `${NAME}`) expand, as in a
 * Nomad raw_exec task, and nothing else does: no command substitution, globbing or word splitting.
 */
export function shellWord(arg: string): string {
  let out = '"';
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!;
    if (c === '$') {
      const next = arg[i + 1] ?? '';
      out += /[A-Za-z_{]/.test(next) ? '$' : '\\$';
    } else if (c === '"' || c === '\\' || c === '`') {
      out += `\\${c}`;
    } else {
      out += c;
    }
  }
  return `${out}"`;
}

/**
 * The argv that runs `argv` through `/bin/sh -c 'exec ...'`: placeholders and `$VARS` expand from
 * the environment, and `exec` makes the program replace the shell (one process, same pid).
 *
 * @example
 * wrapInShell(['node', 'server.mjs', '--port', '{{port}}'])
 * // ['/bin/sh', '-c', 'exec "node" "server.mjs" "--port" "${HPC_SANDBOX_PORT}"', 'hpc-sandbox-task']
 */
export function wrapInShell(argv: readonly string[]): string[] {
  return ['/bin/sh', '-c', `exec ${argv.map((a) => shellWord(placeholdersToVariables(a))).join(' ')}`, 'hpc-sandbox-task'];
}
