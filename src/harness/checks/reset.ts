import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote, requireSuccess } from './check-failure.js';

const NAME = 'reset';

/** `POST /reset` empties one slot's workspace (files, directories, dot files), leaves the others alone, and the slot works after it. */
export const resetCheck = defineCheck({
  name: NAME,
  description: 'reset empties the slot (dot files and directories too), spares other slots, and the slot still works',
  options: z.object({}).strict(),
  async run({ client, spec, signal }) {
    const fill = await client.bash(0, 'mkdir -p a/b/c && echo x > a/b/c/f && echo y > .hidden && echo z > top.txt', { signal });
    requireSuccess(NAME, 'filling slot 0', fill);
    const other = spec.slots >= 2;
    if (other) {
      const kept = await client.writeFile(1, 'keep.txt', 'keep', { signal });
      ensure(kept.ok, NAME, `write_file keep.txt in slot 1 failed: ${quote(kept)}`, kept.raw);
    }

    await client.reset(0, { signal });

    const left = requireSuccess(NAME, 'ls -A after reset', await client.bash(0, 'ls -A', { signal })).trim();
    ensure(left === '', NAME, `slot 0 still holds ${quote(left)} after reset`);
    const gone = await client.readFile(0, 'top.txt', { signal });
    ensure(!gone.ok, NAME, `read_file top.txt still succeeds after reset: ${quote(gone)}`, gone.raw);
    if (other) {
      const kept = await client.readFile(1, 'keep.txt', { signal });
      ensure(kept.ok && kept.content === 'keep', NAME, `resetting slot 0 touched slot 1: keep.txt gave ${quote(kept)}`, kept.raw);
    }
    const works = await client.bash(0, 'echo alive > after.txt && cat after.txt', { signal });
    ensure(requireSuccess(NAME, 'bash after reset', works) === 'alive', NAME, `bash after reset printed ${quote(works.stdout)}`);
    return { state: 'passed', details: { otherSlotChecked: other } };
  },
});
