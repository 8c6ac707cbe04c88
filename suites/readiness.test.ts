import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../src/common/exec.js';
import { projectRoot } from '../src/common/paths.js';
import { type LegSession, SuiteRun } from '../src/harness/runner.js';
import { loadSuite } from '../src/harness/suite/load.js';

// The readiness suite under vitest: one test per leg x check, through the same SuiteRun the CLI
// uses, so verdicts match `hpc-sandbox check suites/readiness.yaml`. A leg whose software is
// missing skips its tests with the reason; HPC_SANDBOX_REQUIRE turns that into failures. Nomad
// legs run against a real agent when one is installed, else the Nomad TEST DOUBLE (annotated).

const suite = await loadSuite(join(projectRoot(), 'suites', 'readiness.yaml'));
const run = new SuiteRun(suite, { env: process.env });

/** Processes whose command line mentions this suite's placement names (proof that nothing is left). */
async function leftoverProcesses(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(`hpcsb-${suite.name}-`)) found.push(`${entry}: ${cmdline.replaceAll('\0', ' ').slice(0, 200)}`);
  }
  return found;
}

afterAll(async () => {
  await run.close();
  expect(await leftoverProcesses()).toEqual([]);
  const containers = await exec('docker', ['ps', '-a', '--format', '{{.Names}}'], { timeoutMs: 20_000 });
  if (containers.exitCode === 0) expect(containers.stdout.split('\n').filter((n) => n.includes(`hpcsb-${suite.name}-`))).toEqual([]);
});

for (const leg of suite.legs) {
  describe(leg.name, () => {
    let session: LegSession | undefined;
    beforeAll(async () => {
      session = await run.openLeg(leg);
    });
    afterAll(async () => {
      await session?.finish();
    });

    for (const check of suite.checks) {
      it(check.name, async ({ skip, signal, annotate }) => {
        if (!session) throw new Error(`leg ${leg.name} did not open`);
        const result = await session.runCheck(check, signal);
        if (result.state === 'skipped') return skip(result.reason);
        if (session.prepared?.double) await annotate(`${leg.name} ran against the Nomad TEST DOUBLE, not Nomad`);
        if (result.state === 'failed') throw new Error(result.error.message);
        if (result.state === 'degraded') await annotate(`DEGRADED: ${result.reason}`, 'warning');
        expect(['passed', 'degraded']).toContain(result.state);
      });
    }
  });
}
