import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'concurrency';

/** Prints the sandbox's wall clock in seconds with microseconds (bash 5 `$EPOCHREALTIME`, else GNU date). */
const NOW = '${EPOCHREALTIME:-$(date +%s.%N)}';

/**
 * All slots can be busy at once: one sleep per slot, sent as separate requests at the same time,
 * all run together. Proven by the sandbox's own clock: the last sleep started before the first
 * one ended, i.e. every interval overlaps every other.
 */
export const concurrencyCheck = defineCheck({
  name: NAME,
  description: 'one command per slot at the same time: all run together (their intervals overlap)',
  options: z
    .object({
      /** Length of each sleep. */
      sleepSec: z.number().min(0.2).max(10).default(1),
    })
    .strict(),
  async run({ client, spec, signal }, { sleepSec }) {
    const outcomes = await Promise.all(
      Array.from({ length: spec.slots }, (_, slot) => client.bash(slot, `echo "${NOW}"; sleep ${sleepSec}; echo "${NOW}"`, { signal })),
    );
    const intervals = outcomes.map((outcome, slot) => {
      const [start, end] = requireSuccess(NAME, `sleep in slot ${slot}`, outcome).trim().split('\n').map(Number);
      ensure(Number.isFinite(start) && Number.isFinite(end), NAME, `slot ${slot} printed no timestamps: ${quote(outcome.stdout)}`, outcome.raw);
      return { slot, start: start as number, end: end as number };
    });
    const lastStart = Math.max(...intervals.map((i) => i.start));
    const firstEnd = Math.min(...intervals.map((i) => i.end));
    ensure(
      lastStart < firstEnd,
      NAME,
      `the ${spec.slots} slots did not all run at once: a sleep started ${(lastStart - firstEnd).toFixed(3)}s after another had ended (${quote(intervals)})`,
    );
    return { state: 'passed', details: { slots: spec.slots, overlapSec: Number((firstEnd - lastStart).toFixed(3)) } };
  },
});
