import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../common/paths.js';
import { CHECKS } from '../checks/registry.js';
import { loadSuite } from './load.js';

describe('shipped suites', () => {
  it('readiness runs every check on every leg', async () => {
    const suite = await loadSuite(join(projectRoot(), 'suites', 'readiness.yaml'));
    expect(suite.checks.map((c) => c.name)).toEqual(CHECKS.map((c) => c.name));
    expect(suite.legs.map((l) => l.name)).toEqual([
      'local x process',
      'local x docker',
      'local x charliecloud',
      'local x singularity',
      'local x podman',
      'nomad x process',
      'nomad x docker',
      'nomad x charliecloud',
      'nomad x singularity',
      'nomad x podman',
      'slurm x process',
      'slurm x charliecloud',
      'slurm x singularity',
    ]);
  });

  it('startup has a benchmark and median, p95 and success references, cold and warm, for every leg', async () => {
    const suite = await loadSuite(join(projectRoot(), 'suites', 'startup.yaml'));
    expect(suite.benchmarks.startup?.modes).toEqual(['sequential', 'staggered', 'burst', 'warm']);
    for (const leg of suite.legs) {
      for (const metric of ['startup.median', 'startup.p95', 'startup.successRate', 'warm.p95', 'warm.successRate']) {
        const reference = suite.references[leg.name]?.[metric] ?? suite.references['*']?.[metric];
        expect(reference, `${leg.name} ${metric}`).toBeDefined();
      }
    }
  });
});
