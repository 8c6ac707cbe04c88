import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import { SandboxClient } from '../../client/index.js';
import type { SandboxSpec } from '../../drivers/driver.js';
import { getDriver } from '../../drivers/index.js';
import { isSandboxError } from '../../errors.js';
import { ensureImage } from '../../images/ensure-image.js';
import { startLocalAgent, type LocalNomadAgent } from './agent.js';
import { NomadScheduler, NOMAD_DOUBLE_VERSION } from './scheduler.js';

// The LIVE leg: a real Nomad agent, either NOMAD_ADDR (a running agent or cluster whose nodes can
// run this checkout's node and server bundle) or `nomad agent -dev` booted from the `nomad` on PATH.
// Never the test double (that is nomad-double.integration.test.ts).
const SPEC: SandboxSpec = { slots: 2, envAllowlist: [], env: { GREETING: 'live' }, isolation: 'off' };

function liveLeg(driverName: 'process' | 'docker'): void {
  let agent: LocalNomadAgent | undefined;
  let nomad: NomadScheduler;
  let image: string | undefined;
  beforeAll(async () => {
    if (!process.env.NOMAD_ADDR) agent = await startLocalAgent({ driver: driverName });
    if (agent?.isDouble) throw new Error(`the nomad on PATH is the hpc-sandbox test double (${NOMAD_DOUBLE_VERSION}), not Nomad: remove fixtures/nomad-double/bin from PATH`);
    nomad = new NomadScheduler({ address: agent?.address ?? process.env.NOMAD_ADDR, token: process.env.NOMAD_TOKEN, namespace: process.env.NOMAD_NAMESPACE, region: process.env.NOMAD_REGION });
    if (driverName === 'docker') image = (await ensureImage('docker')).ref;
  });
  afterAll(async () => {
    await nomad?.close();
    await agent?.stop();
  });

  it(`nomad x ${driverName} (live): places a sandbox that answers on the discovered port`, async () => {
    const detection = await nomad.detect();
    expect(detection.available, detection.reason).toBe(true);
    expect(detection.version).not.toContain(NOMAD_DOUBLE_VERSION);
    await using placement = await nomad.place({ driver: getDriver(driverName), spec: { ...SPEC, image }, ports: { mode: 'dynamic' }, name: `live-${driverName}` });
    await placement.waitUntilHealthy({ timeoutMs: 120_000 });
    await using client = new SandboxClient(placement.url);
    const health = await client.health();
    expect(health.port).toBe(driverName === 'docker' ? 8080 : placement.port);
    expect(health.data_dir).toMatch(driverName === 'docker' ? /^\/data$/ : /\/alloc\/data$/);
    const bash = await client.bash('slot_0', 'echo "$GREETING $((40+2))"');
    expect(bash.output).toContain('live 42');
    await placement.stop();
    expect((await placement.exited).reason).toMatch(/complete|gone|stopped/);
  });

  if (driverName === 'process') {
    it('nomad x process (live): two dynamic-port sandboxes share the node; a reused static port is refused by name', async () => {
      const driver = getDriver('process');
      await using first = await nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'live-pair' });
      await using second = await nomad.place({ driver, spec: SPEC, ports: { mode: 'dynamic' }, name: 'live-pair' });
      await Promise.all([first.waitUntilHealthy(), second.waitUntilHealthy()]);
      expect(first.port).not.toBe(second.port);
      const port = 20000 + (first.port % 1000) + 7;
      await using holder = await nomad.place({ driver, spec: SPEC, ports: { mode: 'static', port }, name: 'live-static' });
      expect(holder.port).toBe(port);
      const clash = nomad.place({ driver, spec: SPEC, ports: { mode: 'static', port }, name: 'live-static' });
      await expect(clash).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_PLACEMENT_FAILED') && (e as Error).message.includes(`static port ${port}`));
    });
  }
}

describeWith(['nomad'], 'Nomad scheduler against a real agent: nomad x process', () => liveLeg('process'));
describeWith(['nomad', 'docker'], 'Nomad scheduler against a real agent: nomad x docker', () => liveLeg('docker'));
