import { z } from 'zod';
import { slotId } from '../../protocol/slot-id.js';
import { defineCheck } from './check.js';
import { ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'isolation';

/**
 * Slots cannot see each other: a file slot 1 writes is invisible from slot 0, whether slot 0 looks
 * at slot 1's working directory or under the server's data dir. From inside, a command holds no
 * capability, runs under seccomp with no_new_privs, sees no host tree (/root, /home, /var, /run,
 * /opt, /srv, /mnt, /sys), cannot make a nested user namespace, and cannot reach the server's own
 * port; where the machine has no user-mode network stack the last is DEGRADED with the reason. Without usable bubblewrap (per
 * /health) slots are plain directories: the leg is reported DEGRADED with the server's reason, and
 * what slot 0 could see is recorded as evidence. When HPC_SANDBOX_REQUIRE names bwrap, a DEGRADED
 * result fails, unless only the network is degraded (bwrap still isolates the rest).
 */
export const isolationCheck = defineCheck({
  name: NAME,
  description: 'slots cannot see each other; from inside no capability, no host tree, no way back to the server; without usable bwrap or a network stack the leg is DEGRADED, with why',
  options: z.object({}).strict(),
  async run({ client, spec, placement, signal }) {
    ensure(spec.slots >= 2, NAME, `needs at least 2 slots to compare, the suite gives ${spec.slots}`);
    const health = await client.health({ signal });
    const secret = `hpcsb-secret-${process.pid}-${Date.now()}.txt`;
    const written = await client.writeFile(1, secret, 'slot 1 only', { signal });
    ensure(written.ok, NAME, `write_file ${secret} in slot 1 failed: ${quote(written)}`, written.raw);
    const slot1Dir = requireSuccess(NAME, 'pwd in slot 1', await client.bash(1, 'pwd -P', { signal })).trim();

    const places = [`${slot1Dir}/${secret}`];
    if (typeof health.data_dir === 'string' && health.data_dir) places.push(`${health.data_dir}/${slotId(1)}/${secret}`);
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

    // From inside, as an attacker: no capability, seccomp on, no host tree, no way back to the server.
    const port = typeof health.port === 'number' ? health.port : placement.port;
    const attack = [
      'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status',
      'for d in /root /home /var /run /opt /srv /mnt /sys; do test -e "$d" && echo "visible $d"; done',
      `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && echo "reached-server ${port}"`,
      'unshare -U true 2>/dev/null && echo nested-userns',
      'true',
    ].join('; ');
    const inside = requireSuccess(NAME, 'probing the sandbox from inside', await client.bash(0, attack, { signal }));
    const problems: string[] = [];
    if (!/^CapEff:\s+0+$/m.test(inside)) problems.push(`a command holds capabilities (${/^CapEff:.*$/m.exec(inside)?.[0] ?? 'no CapEff line'})`);
    if (!/^Seccomp:\s+2$/m.test(inside)) problems.push('no seccomp filter on commands');
    if (!/^NoNewPrivs:\s+1$/m.test(inside)) problems.push('commands may gain privileges (NoNewPrivs is 0)');
    const hostTrees = inside.split('\n').filter((line) => line.startsWith('visible ')).map((line) => line.slice('visible '.length));
    if (hostTrees.length) problems.push(`host trees visible inside: ${hostTrees.join(', ')}`);
    if (inside.includes('nested-userns')) problems.push('a command can create a nested user namespace');
    const network = (health.isolation as { network?: { open?: string; reason?: string } } | undefined)?.network;
    const reachedServer = inside.includes('reached-server');
    Object.assign(details, { inside: inside.split('\n'), network: network ?? null });
    ensure(problems.length === 0, NAME, `the sandbox leaks: ${problems.join('; ')}`, details);
    if (reachedServer) {
      // Only acceptable where the machine has no user-mode network stack, and /health says so.
      ensure(network?.open === 'host', NAME, `a command reached the server's own port ${port} although /health reports its network as ${network?.open ?? 'unknown'}`, details);
      // Degraded on the network only: bwrap isolates the rest, so HPC_SANDBOX_REQUIRE=bwrap holds.
      return { state: 'degraded', reason: `commands share the host network and reach the server's port: ${network?.reason ?? 'no reason given'}`, details: { ...details, degradedBy: 'network' } };
    }
    return { state: 'passed', details };
  },
  // Requiring bwrap fails a leg whose slots run without it; a sandbox that only shares the host
  // network (no user-mode network stack there) stays DEGRADED, with why, in the report.
  failDegraded(outcome, requirements) {
    if (!requirements.requiresBwrap || outcome.details?.degradedBy === 'network') return undefined;
    return `HPC_SANDBOX_REQUIRE demands bwrap, but isolation is DEGRADED: ${outcome.reason}`;
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
