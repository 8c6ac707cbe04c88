import { describe, expect, it } from 'vitest';
import { getDriver } from '../../drivers/index.js';
import type { DriverName, ExecLaunchPlan } from '../../drivers/driver.js';
import { GOLDEN_HOST_ENV, GOLDEN_SPEC, LEAK_MARKER } from '../../drivers/golden-spec.js';
import { renderBatchScript, singleQuote } from './batch-script.js';

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
    it(`renders the ${driver} plan with port 0, the job's data dir and exactly the plan's environment (golden)`, async () => {
      const plan = (await getDriver(driver).plan({ ...GOLDEN_SPEC, image: IMAGES[driver] }, { hostEnv: GOLDEN_HOST_ENV })) as ExecLaunchPlan;
      // The bundle and node paths depend on the machine: golden files name them <bundle> and <node>.
      const script = renderBatchScript(plan, OPTIONS)
        .replaceAll(/'[^' ]*\/sandbox-server\.mjs'/g, "'<bundle>'")
        .replaceAll(`'${process.execPath}'`, "'<node>'");
      await expect(script).toMatchFileSnapshot(`__golden__/${driver}.sh`);
      expect(script).not.toContain('{{');
      expect(script).not.toContain(LEAK_MARKER);
      expect(script).toMatch(/^exec env -i '/m);
      expect(script).toContain(`'--port' '0'`);
    });
  }

  it('puts a static port where the plan has {{port}}', () => {
    const plan: ExecLaunchPlan = { kind: 'exec', driver: 'process', argv: ['srv', '--port', '{{port}}', '--host', '{{bindHost}}'], env: {}, processGroup: false };
    expect(renderBatchScript(plan, { ...OPTIONS, bindHost: '127.0.0.1', port: '8123' }).split('\n').at(-2)).toBe(
      "exec env -i 'srv' '--port' '8123' '--host' '127.0.0.1'",
    );
  });

  it('quotes so that nothing expands inside the batch shell', () => {
    expect(singleQuote("it's $HOME `id` $(id) *")).toBe(`'it'\\''s $HOME \`id\` $(id) *'`);
  });
});
