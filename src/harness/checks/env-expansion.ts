import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { PLACEHOLDERS } from '../../drivers/driver.js';
import { slotId } from '../../protocol/slot-id.js';
import { defineCheck } from './check.js';
import { CheckFailure, ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'env-expansion';

/** Variables this check puts into the leg's spec and host environment. */
export const ENV_CHECK_VARIABLES = {
  port: 'HPC_SANDBOX_CHECK_PORT',
  literal: 'HPC_SANDBOX_CHECK_LITERAL',
  allowed: 'HPC_SANDBOX_CHECK_ALLOWED',
  denied: 'HPC_SANDBOX_CHECK_DENIED',
} as const;

/** Shell-looking text that must arrive verbatim: nothing on the way may expand it a second time. */
export const LITERAL_VALUE = "lit $(id -u) `hostname` 'quoted' \"dq\" \\n 100% ;|&";
const ALLOWED_VALUE = 'allowed value with spaces';
const DENIED_VALUE = 'must-not-leak';

/**
 * Environment and binds as the sandbox sees them: `{{port}}` in a task variable becomes the port
 * the server listens on; a value containing `$VAR`, `$(..)` and backticks arrives verbatim; an
 * allowlisted host variable crosses over and a non-allowlisted one does not; a file written through
 * the API appears on the host under the placement's data dir (`<dataDir>/slot_0/...`) when the
 * scheduler exposes it, proving the bind took effect.
 */
export const envExpansionCheck = defineCheck({
  name: NAME,
  description: 'placeholders and variables are expanded once, the allowlist is honoured, the data-dir bind works',
  options: z.object({}).strict(),
  prepare() {
    return {
      env: { [ENV_CHECK_VARIABLES.port]: PLACEHOLDERS.port, [ENV_CHECK_VARIABLES.literal]: LITERAL_VALUE },
      envAllowlist: [ENV_CHECK_VARIABLES.allowed],
      hostEnv: { [ENV_CHECK_VARIABLES.allowed]: ALLOWED_VALUE, [ENV_CHECK_VARIABLES.denied]: DENIED_VALUE },
    };
  },
  async run({ client, placement, signal }) {
    const show = (name: string) => `printf '%s\\n' "\${${name}-<unset>}"`;
    const read = async (name: string) => {
      const outcome = await client.bash(0, show(name), { signal });
      return requireSuccess(NAME, `echo $${name}`, outcome).replace(/\n$/, '');
    };

    const health = await client.health({ signal });
    const problems: string[] = [];
    const port = await read(ENV_CHECK_VARIABLES.port);
    const listening = [String(placement.port), typeof health.port === 'number' ? String(health.port) : undefined].filter(Boolean);
    if (!listening.includes(port)) {
      problems.push(`$${ENV_CHECK_VARIABLES.port} (set to ${PLACEHOLDERS.port}) is ${quote(port)} inside, expected the listening port ${[...new Set(listening)].join(' or ')}`);
    }
    const literal = await read(ENV_CHECK_VARIABLES.literal);
    if (literal !== LITERAL_VALUE) problems.push(`$${ENV_CHECK_VARIABLES.literal} is ${quote(literal)} inside, expected it verbatim: ${quote(LITERAL_VALUE)}`);
    const allowed = await read(ENV_CHECK_VARIABLES.allowed);
    if (allowed !== ALLOWED_VALUE) {
      problems.push(`allowlisted host variable $${ENV_CHECK_VARIABLES.allowed} is ${quote(allowed)} inside, expected ${quote(ALLOWED_VALUE)}`);
    }
    const denied = await read(ENV_CHECK_VARIABLES.denied);
    if (denied !== '<unset>') problems.push(`host variable $${ENV_CHECK_VARIABLES.denied} is not allowlisted but arrived as ${quote(denied)}`);
    ensure(problems.length === 0, NAME, problems.join('; '));

    if (!placement.dataDir) {
      return { state: 'passed', details: { port, dataDirBind: `not verified: the ${placement.scheduler} scheduler exposes no dataDir` } };
    }
    const file = `hpcsb-bind-${process.pid}-${Date.now()}.txt`;
    const nonce = `bind check ${Math.random().toString(36).slice(2)}`;
    const written = await client.writeFile(0, file, nonce, { signal });
    ensure(written.ok, NAME, `write_file ${file} failed: ${quote(written)}`, written.raw);
    const hostPath = join(placement.dataDir, slotId(0), file);
    let onHost: string;
    try {
      onHost = await readFile(hostPath, 'utf8');
    } catch (error) {
      throw new CheckFailure(
        NAME,
        `a file written through the API in slot 0 is not on the host at ${hostPath}: ${(error as Error).message} (is the data dir bound?)`,
      );
    }
    ensure(onHost === nonce, NAME, `${hostPath} holds ${quote(onHost)}, expected ${quote(nonce)}`);
    return { state: 'passed', details: { port, dataDir: placement.dataDir } };
  },
});
