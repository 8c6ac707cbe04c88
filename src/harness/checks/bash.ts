import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote } from './check-failure.js';

const NAME = 'bash';

/**
 * `bash`: stdout and stderr come back apart, the exit code is the command's, and a command that
 * outlives its time limit is killed (it never gets to write the file it would write afterwards).
 */
export const bashCheck = defineCheck({
  name: NAME,
  description: 'bash returns stdout, stderr and the exit code; a command past its timeout is killed',
  options: z
    .object({
      /** Time limit given to the command that must be killed. */
      timeoutSec: z.number().int().min(1).max(30).default(1),
      /** How long that command sleeps before it would write its marker (must exceed timeoutSec). */
      sleepSec: z.number().int().min(2).max(60).default(2),
    })
    .strict()
    .refine((o) => o.sleepSec > o.timeoutSec, { error: 'sleepSec must be greater than timeoutSec', path: ['sleepSec'] }),
  async run({ client, signal }, { timeoutSec, sleepSec }) {
    const streams = await client.bash(0, 'printf "to-stdout\\n"; printf "to-stderr\\n" >&2; exit 3', { signal });
    ensure(streams.exitCode === 3, NAME, `exit 3 came back as exit code ${streams.exitCode}`, streams.raw);
    ensure(!streams.success, NAME, 'a command exiting 3 was reported as success', streams.raw);
    ensure(streams.stdout === 'to-stdout', NAME, `stdout was ${quote(streams.stdout)}, expected "to-stdout"`, streams.raw);
    ensure(streams.stderr === 'to-stderr', NAME, `stderr was ${quote(streams.stderr)}, expected "to-stderr"`, streams.raw);
    ensure(!streams.stdout.includes('to-stderr'), NAME, 'stderr leaked into stdout', streams.raw);

    const ok = await client.bash(0, 'echo "$((6 * 7))"', { signal });
    ensure(ok.success && ok.exitCode === 0 && ok.stdout === '42', NAME, `echo $((6*7)) gave ${quote(ok)}`, ok.raw);

    const marker = `.hpcsb-timeout-${process.pid}-${Date.now()}`;
    const killed = await client.bash(0, `sleep ${sleepSec}; echo late > ${marker}`, { timeoutSec, signal });
    ensure(!killed.success, NAME, `a ${sleepSec}s command with a ${timeoutSec}s timeout succeeded`, killed.raw);
    ensure(killed.timedOut || killed.exitCode !== 0, NAME, 'the timed-out command reported neither a timeout nor a failure', killed.raw);
    // Killed means the rest of the command never runs: give it time to, then look.
    await sleep((sleepSec - timeoutSec) * 1000 + 500, undefined, { signal });
    const after = await client.bash(0, `test -e ${marker} && echo survived || echo killed`, { signal });
    ensure(after.stdout.trim() === 'killed', NAME, `the timed-out command kept running and wrote ${marker}`, after.raw);
    return { state: 'passed', details: { timedOutReported: killed.timedOut } };
  },
});
