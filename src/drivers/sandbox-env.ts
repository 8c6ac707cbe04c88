import { ConfigError } from '../errors.js';
import type { SandboxSpec } from './driver.js';

/** PATH given to every sandbox server unless the allowlist or `spec.env` says otherwise (Debian's default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** glibc 2.35+ has C.UTF-8 built in, so this locale works in the minimal images too. */
export const DEFAULT_LANG = 'C.UTF-8';

/** The variable the sandbox server reads its bearer token from (kept out of argv, which `ps` shows). */
export const TOKEN_ENV = 'HPC_SANDBOX_TOKEN';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment the sandbox server sees, in increasing precedence: `base` (PATH, HOME, LANG
 * chosen by the driver), the allowlisted host variables that are set in `hostEnv`, `spec.env`, and
 * the token. Nothing else of the host crosses over.
 *
 * @throws ConfigError for a name that is not a valid environment variable name.
 */
export function sandboxEnv(
  spec: Pick<SandboxSpec, 'envAllowlist' | 'env' | 'token'>,
  hostEnv: NodeJS.ProcessEnv,
  base: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = { ...base };
  for (const name of spec.envAllowlist) {
    assertEnvName(name, 'envAllowlist');
    const value = hostEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(spec.env)) {
    assertEnvName(name, 'env');
    env[name] = value;
  }
  if (spec.token !== undefined) env[TOKEN_ENV] = spec.token;
  return env;
}

function assertEnvName(name: string, option: string): void {
  if (!ENV_NAME.test(name)) {
    throw new ConfigError(`Expected every name in the sandbox \`${option}\` to be an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got \`${name}\``);
  }
}
