import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'isolation';

/**
 * Slots cannot see each other: a file slot 1 writes is invisible from slot 0, whether slot 0 looks
 * at slot 1's working directory or under the server's data dir. Without usable bubblewrap (per
 * /health) slots are plain directories: the leg is reported DEGRADED with the server's reason, and
 * what slot 0 could see is recorded as evidence.
 */
export const isolationCheck = defineCheck({
  name: NAME,
  description: 'slots cannot see each other; without usable bwrap the leg is DEGRADED, with why',
  options: z.object({}).strict(),
  async run({ client, spec, signal }) {
    ensure(spec.slots >= 2, NAME, `needs at least 2 slots to compare, the suite gives ${spec.slots}`);
    const health = await client.health({ signal });
    const secret = `hpcsb-secret-${process.pid}-${Date.now()}.txt`;
    const written = await client.writeFile(1, secret, 'slot 1 only', { signal });
    ensure(written.ok, NAME, `write_file ${secret} in slot 1 failed: ${quote(written)}`, written.raw);
    const slot1Dir = requireSuccess(NAME, 'pwd in slot 1', await client.bash(1, 'pwd -P', { signal })).trim();

    const places = [`${slot1Dir}/${secret}`];
    if (typeof health.data_dir === 'string' && health.data_dir) places.push(`${health.data_dir}/slot_1/${secret}`);
    const probe = places.map((p) => `if test -e '${p}'; then echo "visible ${p}"; fi`).join('; ');
    const seen = await client.bash(0, `${probe}; true`, { signal });
    const visible = requireSuccess(NAME, 'looking for slot 1 files from slot 0', seen)
      .split('\n')
      .filter((line) => line.startsWith('visible '))
      .map((line) => line.slice('visible '.length));

    const bwrap = health.bwrap_available === true;
    const details = { bwrapAvailable: bwrap, isolationMode: spec.isolation, slot1Dir, visibleFromSlot0: visible, health: isolationFacts(health) };
    if (!bwrap || spec.isolation === 'off') {
      const why =
        spec.isolation === 'off'
          ? 'the suite sets isolation: off'
          : `bwrap is not usable in the sandbox (${degradedReason(health)})`;
      return { state: 'degraded', reason: `slots are not isolated: ${why}; slot 0 ${visible.length ? 'can' : 'cannot'} see slot 1's files`, details };
    }
    ensure(visible.length === 0, NAME, `slot 0 can see a file of slot 1 at ${visible.join(', ')} although bwrap is available`, details);
    return { state: 'passed', details };
  },
});

/** The /health fields that explain isolation (whatever the server adds beyond `bwrap_available`). */
function isolationFacts(health: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(health).filter(([key]) => /bwrap|isolation|sandbox/i.test(key)));
}

function degradedReason(health: Record<string, unknown>): string {
  const isolation = health.isolation as { reason?: unknown } | undefined;
  if (typeof isolation?.reason === 'string' && isolation.reason) return isolation.reason;
  return 'bwrap_available: false in /health, which gives no reason';
}
