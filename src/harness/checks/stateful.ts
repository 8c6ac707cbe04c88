import { z } from 'zod';
import { defineCheck } from './check.js';
import { ensure, quote } from './check-failure.js';

const NAME = 'stateful';
const DIR = 'hpcsb-stateful';

/**
 * The stateful terminal tools (`bash_stateful`, `tmux`): a cwd and a variable survive from one
 * call to the next, keys sent with `send_keys` show in `capture`, and `/reset` ends the session.
 * Skipped where the server does not offer them (its image has no tmux: /health `tools` says so);
 * degraded where the session runs without bubblewrap.
 */
export const statefulCheck = defineCheck({
  name: NAME,
  description: 'bash_stateful keeps cwd and variables between calls, tmux send_keys shows in capture, reset ends the session',
  options: z.object({}).strict(),
  async run({ client, signal }) {
    const health = await client.health({ signal });
    const tools = Array.isArray(health.tools) ? (health.tools as unknown[]) : [];
    if (!tools.includes('bash_stateful') || !tools.includes('tmux')) {
      return { state: 'skipped', reason: `the sandbox server does not offer bash_stateful and tmux (its /health tools: ${tools.join(', ') || 'none listed'}); its image has no tmux` };
    }
    if (!client.bashStateful || !client.tmux) return { state: 'skipped', reason: 'this sandbox client has no stateful terminal calls' };

    const first = await client.bashStateful(0, `mkdir -p ${DIR} && cd ${DIR} && export HPCSB_STATEFUL=kept`, { signal });
    ensure(first.exitCode === 0, NAME, `bash_stateful cd and export exited with ${first.exitCode ?? 'no exit code'}: ${quote(first.output)}`, first.raw);
    const second = await client.bashStateful(0, 'echo "$PWD|$HPCSB_STATEFUL"', { signal });
    ensure(second.exitCode === 0 && second.output.endsWith(`/${DIR}|kept`), NAME, `the second bash_stateful call did not keep cwd and variable: expected ".../${DIR}|kept", got ${quote(second.output)}`, second.raw);
    const sandboxed = (second.raw as { metadata?: { sandboxed?: unknown } }).metadata?.sandboxed === true;

    const started = await client.tmux(0, { action: 'start' }, { signal });
    ensure(started.success, NAME, `tmux start failed: ${quote(started.error)}`, started.raw);
    const sent = await client.tmux(0, { action: 'send_keys', keys: ['echo hpcsb-keys-$((6*7))', 'Enter'], block: true }, { signal, timeoutSec: 30 });
    ensure(sent.success, NAME, `tmux send_keys failed: ${quote(sent.error)}`, sent.raw);
    const captured = await client.tmux(0, { action: 'capture' }, { signal });
    ensure(captured.success && captured.output.includes('hpcsb-keys-42'), NAME, `tmux capture does not show what send_keys ran (hpcsb-keys-42): ${quote(captured.output)}`, captured.raw);

    await client.reset(0, { signal });
    const after = await client.bashStateful(0, 'echo "[$HPCSB_STATEFUL]"', { signal });
    ensure(after.exitCode === 0 && after.output === '[]', NAME, `after reset the session still holds the variable (expected "[]"): ${quote(after.output)}`, after.raw);
    await client.reset(0, { signal });

    const details = { sandboxed };
    return sandboxed ? { state: 'passed', details } : { state: 'degraded', reason: 'the terminal session runs without bubblewrap (no pid namespace, host view)', details };
  },
});
