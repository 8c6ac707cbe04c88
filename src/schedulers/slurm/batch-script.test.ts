import { describe, expect, it } from 'vitest';
import { getDriver } from '../../drivers/index.js';
import type { DriverName, ExecLaunchPlan } from '../../drivers/driver.js';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../../drivers/golden-spec.js';
import { createServer, type AddressInfo } from 'node:net';
import { exec } from '../../common/exec.js';
import { PICK_PORT, renderBatchScript, singleQuote } from './batch-script.js';

const IMAGES: Record<string, string | undefined> = {
  process: undefined,
  singularity: '/images/sandbox.sif',
  charliecloud: '/images/sandbox.sqfs',
};

const OPTIONS = {
  id: 'golden-0000',
  dataDir: '/shared/hpcsb/golden-0000/alloc/data',
  startedFile: '/shared/hpcsb/golden-0000/started',
  bindHost: '0.0.0.0',
};

describe('renderBatchScript', () => {
  for (const driver of ['process', 'singularity', 'charliecloud'] as DriverName[]) {
    it(`renders the ${driver} plan with the port picked on the node, the job's data dir and exactly the plan's environment (golden)`, async () => {
      const plan = (await getDriver(driver).plan({ ...GOLDEN_SPEC, image: IMAGES[driver] }, { hostEnv: GOLDEN_HOST_ENV })) as ExecLaunchPlan;
      // The bundle and node paths depend on the machine: golden files name them <bundle> and <node>.
      const script = renderBatchScript(plan, OPTIONS)
        .replaceAll(/'[^' ]*\/sandbox-server\.mjs'/g, "'<bundle>'")
        .replaceAll(`'${process.execPath}'`, "'<node>'");
      await expect(script).toMatchFileSnapshot(`__golden__/${driver}.sh`);
      expect(script).not.toContain('{{');
      expect(script).not.toContain(LEAK_MARKER);
      expect(script).toMatch(/^exec env -i '/m);
      expect(script).toContain(`'--port' "$HPC_SANDBOX_PORT"`);
      expect(script).toContain(`SELF_URL=http://0.0.0.0:'"$HPC_SANDBOX_PORT"`);
    });
  }

  it('puts a static port where the plan has {{port}}', () => {
    const plan: ExecLaunchPlan = { kind: 'exec', driver: 'process', argv: ['srv', '--port', '{{port}}', '--host', '{{bindHost}}'], env: {}, processGroup: false };
    const script = renderBatchScript(plan, { ...OPTIONS, bindHost: '127.0.0.1', port: 8123 });
    expect(script).toContain('\nHPC_SANDBOX_PORT=8123\n');
    expect(script).not.toContain('/dev/urandom');
    expect(script.split('\n').at(-2)).toBe(`exec env -i 'srv' '--port' "$HPC_SANDBOX_PORT" '--host' '127.0.0.1'`);
  });

  it('picks, in sh, a port in 10000-32767 that no socket listens on', async () => {
    const listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (listener.address() as AddressInfo).port;
      const result = await exec('/bin/sh', ['-c', `set -e\n${PICK_PORT}\nlistening ${taken} && echo taken-seen\necho "$HPC_SANDBOX_PORT"`]);
      expect(result.exitCode).toBe(0);
      const [seen, port] = result.stdout.trim().split('\n');
      expect(seen).toBe('taken-seen');
      expect(Number(port)).toBeGreaterThanOrEqual(10000);
      expect(Number(port)).toBeLessThanOrEqual(32767);
    } finally {
      listener.close();
    }
  });

  it('quotes so that nothing expands inside the batch shell', () => {
    expect(singleQuote("it's $HOME `id` $(id) *")).toBe(`'it'\\''s $HOME \`id\` $(id) *'`);
  });
});
