/**
 * The environment a command starts with: nothing of the server's unless named. The server's own
 * variables (its token, cloud credentials, a scheduler's secrets) never cross by default.
 */

/** PATH inside the sandbox: the system trees are all a command sees. */
export const SANDBOX_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The user name commands see in `USER` (numeric uids need no passwd entry). */
export const SANDBOX_USER = 'sandbox';

export interface CommandEnvOptions {
  /** The server's environment: read for LANG, TERM, TZ and the `passEnv` names. */
  serverEnv: NodeJS.ProcessEnv;
  /** Names of server variables that cross over (`--pass-env`); the token variable never does. */
  passEnv: readonly string[];
  /** `HOME` (and where commands start): `/workspace` in a sandbox, the slot dir without one. */
  home: string;
  /** Never passed, whatever `passEnv` says. */
  denied: readonly string[];
}

/** PATH, HOME, LANG, TERM, TZ, USER, and the named variables that exist. */
export function commandEnv(options: CommandEnvOptions): NodeJS.ProcessEnv {
  const { serverEnv } = options;
  const env: NodeJS.ProcessEnv = {
    PATH: SANDBOX_PATH,
    HOME: options.home,
    LANG: serverEnv.LANG || 'C.UTF-8',
    TERM: serverEnv.TERM || 'xterm',
    TZ: serverEnv.TZ || 'UTC',
    USER: SANDBOX_USER,
  };
  for (const name of options.passEnv) {
    if (options.denied.includes(name)) continue;
    const value = serverEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** A valid variable name for `--pass-env` (what a POSIX shell could see). */
export function isEnvName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}
