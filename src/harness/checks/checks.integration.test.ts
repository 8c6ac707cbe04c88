import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { CleanupStack } from '../../common/cleanup-stack.js';
import type { SandboxSpec } from '../../drivers/driver.js';
import { getDriver } from '../../drivers/index.js';
import { LocalScheduler } from '../../schedulers/local/local-scheduler.js';
import type { Placement, PortRequest } from '../../schedulers/scheduler.js';
import { sandboxApiFor } from '../client-adapter.js';
import type { SandboxApi } from '../sandbox-api.js';
import { bashCheck } from './bash.js';
import { batchCheck } from './batch.js';
import type { Check, CheckContext, PlacedSandbox } from './check.js';
import { concurrencyCheck } from './concurrency.js';
import { statefulCheck } from './stateful.js';
import { envExpansionCheck } from './env-expansion.js';
import { filesCheck } from './files.js';
import { isolationCheck } from './isolation.js';
import { freePort, portBindingCheck } from './port-binding.js';
import { resetCheck } from './reset.js';

// Every check against a real sandbox server (local scheduler x process driver: node and the
// bundle only), once as it should pass and once through a sabotaged client or spec, to show each
// check can fail and says why.

const BASE_SPEC: SandboxSpec = { slots: 3, envAllowlist: [], env: {}, isolation: 'auto' };

class Sandboxes {
  readonly scheduler = new LocalScheduler({ exitHook: false });
  readonly stack = new CleanupStack();
  readonly placements: Placement[] = [];

  async place(spec: SandboxSpec, ports: PortRequest, hostEnv: NodeJS.ProcessEnv = process.env): Promise<PlacedSandbox> {
    const driver = getDriver('process');
    const planning = { ...driver, name: driver.name, detect: driver.detect.bind(driver), plan: (s: SandboxSpec) => driver.plan(s, { hostEnv }) };
    const placement = await this.scheduler.place({ driver: planning, spec, ports, name: 'checks-test' });
    this.placements.push(placement);
    this.stack.defer(() => placement.stop());
    await placement.waitUntilHealthy({ timeoutMs: 60_000 });
    const client = sandboxApiFor(placement);
    this.stack.defer(() => client.close());
    return { placement, client, spec, ports };
  }

  /** A check context with the check's own spec needs applied, as the runner does. */
  async context(check: Check, options: { spec?: Partial<SandboxSpec>; ports?: PortRequest; client?: (api: SandboxApi) => SandboxApi } = {}) {
    const needs = check.prepare?.({}) ?? {};
    const spec: SandboxSpec = {
      ...BASE_SPEC,
      ...options.spec,
      env: { ...needs.env, ...options.spec?.env },
      envAllowlist: [...(needs.envAllowlist ?? []), ...(options.spec?.envAllowlist ?? [])],
    };
    const hostEnv = { ...process.env, ...needs.hostEnv };
    const ports = options.ports ?? { mode: 'dynamic' };
    const sandbox = await this.place(spec, ports, hostEnv);
    const context: CheckContext = {
      ...sandbox,
      client: options.client ? options.client(sandbox.client) : sandbox.client,
      leg: { scheduler: 'local', driver: 'process' },
      signal: AbortSignal.timeout(60_000),
      hostEnv,
      placeSandbox: (overrides = {}) => this.place({ ...spec, ...overrides.spec }, overrides.ports ?? ports, hostEnv),
    };
    return context;
  }

  async close(): Promise<void> {
    const base = await this.scheduler.baseDir();
    await this.stack.dispose();
    await this.scheduler.close();
    for (const placement of this.placements) expect(await placement.status()).not.toBe('running');
    expect(existsSync(base), `${base} left behind`).toBe(false);
  }
}

async function run<O extends Record<string, unknown>>(check: Check<O>, context: CheckContext, options: Record<string, unknown> = {}) {
  return check.run(context, check.options.parse(options));
}

describe('checks against a local x process sandbox', () => {
  const sandboxes = new Sandboxes();
  afterAll(() => sandboxes.close());

  it('bash: passes, and fails when stderr is lost', async () => {
    const context = await sandboxes.context(bashCheck);
    await expect(run(bashCheck, context)).resolves.toMatchObject({ state: 'passed', details: { timedOutReported: true } });
    const lossy = { ...context, client: { ...context.client, bash: async (...args: Parameters<SandboxApi['bash']>) => ({ ...(await context.client.bash(...args)), stderr: '' }) } };
    await expect(run(bashCheck, lossy)).rejects.toThrow('stderr was "", expected "to-stderr"');
  });

  it('files: passes, and fails when a read comes back altered', async () => {
    const context = await sandboxes.context(filesCheck);
    await expect(run(filesCheck, context)).resolves.toMatchObject({ state: 'passed', details: { largeChars: 90_000 } });
    const altering: SandboxApi = {
      ...context.client,
      readFile: async (...args) => {
        const read = await context.client.readFile(...args);
        return read.ok ? { ...read, content: read.content.slice(0, -1) } : read;
      },
    };
    await expect(run(filesCheck, { ...context, client: altering })).rejects.toThrow(/read_file "utf8.txt" returned \d+ chars differing from the \d+ written/);
  });

  it('files: fails when an escape is not refused with 403', async () => {
    const context = await sandboxes.context(filesCheck);
    const permissive: SandboxApi = { ...context.client, readFile: async () => ({ ok: true, content: 'root:x:0:0', raw: {} }) };
    await expect(run(filesCheck, { ...context, client: permissive })).rejects.toThrow('read_file "utf8.txt" returned');
    const leaky: SandboxApi = {
      ...context.client,
      readFile: async (slot, path, options) => (path.startsWith('/') ? { ok: true, content: 'host file', raw: {} } : context.client.readFile(slot, path, options)),
    };
    await expect(run(filesCheck, { ...context, client: leaky })).rejects.toThrow('read_file "/etc/hostname" was not refused with 403');
  });

  it('env-expansion: passes on a static port, and fails when a non-allowlisted variable leaks', async () => {
    const port = await freePort();
    const context = await sandboxes.context(envExpansionCheck, { ports: { mode: 'static', port } });
    await expect(run(envExpansionCheck, context)).resolves.toEqual({ state: 'passed', details: { port: String(port), dataDir: context.placement.dataDir } });
    const leaking = await sandboxes.context(envExpansionCheck, { ports: { mode: 'static', port: await freePort() }, spec: { envAllowlist: ['HPC_SANDBOX_CHECK_DENIED'] } });
    await expect(run(envExpansionCheck, leaking)).rejects.toThrow('host variable $HPC_SANDBOX_CHECK_DENIED is not allowlisted but arrived as "must-not-leak"');
  });

  it('reset: passes, and fails when reset does nothing', async () => {
    const context = await sandboxes.context(resetCheck);
    await expect(run(resetCheck, context)).resolves.toEqual({ state: 'passed', details: { otherSlotChecked: true } });
    const noop: SandboxApi = { ...context.client, reset: async () => undefined };
    await expect(run(resetCheck, { ...context, client: noop })).rejects.toThrow(/^slot 0 still holds ".*top\.txt.*" after reset$/s);
  });

  it('stateful: passes, fails when reset leaves the session alive, and skips where the server lacks the tools', async () => {
    const context = await sandboxes.context(statefulCheck);
    await expect(run(statefulCheck, context)).resolves.toMatchObject({ state: expect.stringMatching(/^(passed|degraded)$/), details: { sandboxed: expect.any(Boolean) } });
    const noop: SandboxApi = { ...context.client, reset: async () => undefined };
    await expect(run(statefulCheck, { ...context, client: noop })).rejects.toThrow('after reset the session still holds the variable (expected "[]"): "[kept]"');
    const withoutTmux: SandboxApi = { ...context.client, health: async (options) => ({ ...(await context.client.health(options)), tools: ['bash', 'read_file', 'write_file'] }) };
    await expect(run(statefulCheck, { ...context, client: withoutTmux })).resolves.toMatchObject({ state: 'skipped', reason: expect.stringContaining('its image has no tmux') });
  });

  it('batch: passes, and fails when answers come back out of order', async () => {
    const context = await sandboxes.context(batchCheck);
    await expect(run(batchCheck, context)).resolves.toMatchObject({ state: 'passed', details: { calls: 3 } });
    const shuffled: SandboxApi = { ...context.client, batch: async (...args) => (await context.client.batch(...args)).reverse() };
    await expect(run(batchCheck, { ...context, client: shuffled })).rejects.toThrow('answer 0 is "slot 2 says 22", expected "slot 0 says 0"');
  });

  it('concurrency: passes, and fails when slots run one after another', async () => {
    const context = await sandboxes.context(concurrencyCheck);
    await expect(run(concurrencyCheck, context, { sleepSec: 0.5 })).resolves.toMatchObject({ state: 'passed', details: { slots: 3 } });
    let queue = Promise.resolve();
    const serial: SandboxApi = {
      ...context.client,
      bash: (...args) => {
        const next = queue.then(() => context.client.bash(...args));
        queue = next.then(() => undefined);
        return next;
      },
    };
    await expect(run(concurrencyCheck, { ...context, client: serial }, { sleepSec: 0.3 })).rejects.toThrow(/^the 3 slots did not all run at once/);
  });

  it('port-binding: passes (second dynamic and a static placement), and fails when two placements share a port', async () => {
    const context = await sandboxes.context(portBindingCheck);
    const outcome = await run(portBindingCheck, context);
    expect(outcome).toMatchObject({ state: 'passed', details: { port: context.placement.port, mode: 'dynamic' } });
    const same: CheckContext = { ...context, placeSandbox: async () => ({ placement: context.placement, client: context.client, spec: context.spec, ports: context.ports }) };
    await expect(run(portBindingCheck, same, { static: false })).rejects.toThrow(`two dynamic placements share port ${context.placement.port}`);
  });

  it('isolation: DEGRADED with why when the suite turns isolation off', async () => {
    const context = await sandboxes.context(isolationCheck, { spec: { isolation: 'off' } });
    const outcome = await run(isolationCheck, context);
    expect(outcome.state).toBe('degraded');
    expect(outcome.state === 'degraded' && outcome.reason).toMatch(/^slots are not isolated: the suite sets isolation: off; slot 0 can see slot 1's files$/);
  });
});

describeWith(['bwrap'], 'isolation check with bubblewrap', () => {
  const sandboxes = new Sandboxes();
  let context: CheckContext;
  beforeAll(async () => {
    context = await sandboxes.context(isolationCheck);
  });
  afterAll(() => sandboxes.close());

  it('passes: slot 0 cannot see slot 1', async () => {
    await expect(run(isolationCheck, context)).resolves.toMatchObject({ state: 'passed', details: { bwrapAvailable: true, visibleFromSlot0: [] } });
  });

  it('fails when a file of slot 1 is visible from slot 0', async () => {
    const seeing: SandboxApi = {
      ...context.client,
      bash: async (slot, command, options) =>
        slot === 0 && command.includes('visible') ? { ...(await context.client.bash(slot, 'echo "visible /workspace/x"', options)) } : context.client.bash(slot, command, options),
    };
    await expect(run(isolationCheck, { ...context, client: seeing })).rejects.toThrow('slot 0 can see a file of slot 1 at /workspace/x although bwrap is available');
  });

  it('fails when a command holds capabilities, sees host trees or makes a nested user namespace', async () => {
    const leaky: SandboxApi = {
      ...context.client,
      bash: async (slot, command, options) =>
        command.includes('CapEff') ? context.client.bash(slot, 'printf "CapEff:\\t000001ffffffffff\\nNoNewPrivs:\\t1\\nSeccomp:\\t2\\nvisible /root\\nnested-userns\\n"', options) : context.client.bash(slot, command, options),
    };
    await expect(run(isolationCheck, { ...context, client: leaky })).rejects.toThrow(
      'the sandbox leaks: a command holds capabilities (CapEff:\t000001ffffffffff); host trees visible inside: /root; a command can create a nested user namespace',
    );
  });

  it("fails when a command reaches the server's port although /health says the network is the slot's own", async () => {
    const health = await context.client.health();
    const port = typeof health.port === 'number' ? health.port : context.placement.port;
    const reaching: SandboxApi = {
      ...context.client,
      health: async (options) => ({ ...(await context.client.health(options)), isolation: { ...(health.isolation as object), network: { open: 'stack', stack: '/usr/bin/pasta', reason: null } } }),
      bash: async (slot, command, options) => (command.includes('CapEff') ? context.client.bash(slot, `${command}; echo "reached-server ${port}"`, options) : context.client.bash(slot, command, options)),
    };
    await expect(run(isolationCheck, { ...context, client: reaching })).rejects.toThrow(`a command reached the server's own port ${port} although /health reports its network as stack`);
  });
});
