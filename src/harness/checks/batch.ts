import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote } from './check-failure.js';

const NAME = 'batch';

/**
 * `POST /batch`: every call gets its own answer, in request order, across all slots; two calls to
 * the same slot are serialised (the slot's lock), so their writes never interleave.
 */
export const batchCheck = defineCheck({
  name: NAME,
  description: 'batch answers every call in order across slots; calls to one slot do not interleave',
  options: z.object({}).strict(),
  async run({ client, spec, signal }) {
    const calls = Array.from({ length: spec.slots }, (_, slot) => ({ slot, command: `echo "slot ${slot} says $((${slot} * 11))"` }));
    const answers = await client.batch(calls, { signal });
    ensure(answers.length === calls.length, NAME, `${calls.length} calls gave ${answers.length} answers`, answers);
    answers.forEach((answer, slot) => {
      const expected = `slot ${slot} says ${slot * 11}`;
      ensure(answer.exitCode === 0 && answer.stdout === expected, NAME, `answer ${slot} is ${quote(answer.stdout)}, expected ${quote(expected)}`, answer.raw);
    });

    const log = `.hpcsb-order-${process.pid}-${Date.now()}`;
    const sameSlot = await client.batch(
      [
        { slot: 0, command: `echo a1 >> ${log}; sleep 0.3; echo a2 >> ${log}` },
        { slot: 0, command: `echo b1 >> ${log}; sleep 0.3; echo b2 >> ${log}` },
      ],
      { signal },
    );
    ensure(sameSlot.every((a) => a.exitCode === 0), NAME, `same-slot calls failed: ${quote(sameSlot.map((a) => a.raw))}`);
    const order = (await client.bash(0, `cat ${log}; rm -f ${log}`, { signal })).stdout.trim().split('\n').join(',');
    ensure(order === 'a1,a2,b1,b2' || order === 'b1,b2,a1,a2', NAME, `two calls to slot 0 interleaved: ${order}`);
    return { state: 'passed', details: { calls: calls.length, sameSlotOrder: order } };
  },
});
