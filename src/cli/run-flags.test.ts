import { describe, expect, it } from 'vitest';
import { parseSuite } from '../harness/suite/load.js';
import { applyRunFlags, resolveSuitePath } from './run-flags.js';

const suite = parseSuite(
  'name: m\nmatrix: { scheduler: [local, nomad], driver: [process, docker, singularity] }\nchecks: [bash]\n',
  'suites/m.yaml',
);

describe('applyRunFlags', () => {
  it('keeps every leg without filters', () => {
    expect(applyRunFlags(suite, {}).legs).toBeUndefined();
  });

  it('filters by scheduler and by driver, the latter also through the --env.driver alias', () => {
    expect(applyRunFlags(suite, { scheduler: ['nomad'], driver: ['docker'], 'env.driver': ['process'] }).legs).toEqual(['nomad x process', 'nomad x docker']);
  });

  it('overrides the singularity image with an absolute path from either spelling', () => {
    expect(applyRunFlags(suite, { singularityImage: 'img/sandbox.sif' }).suite.sandbox.images.singularity).toMatch(/^\/.*\/img\/sandbox\.sif$/);
    expect(applyRunFlags(suite, { 'env.singularity_image': '/x.sif' }).suite.sandbox.images.singularity).toBe('/x.sif');
    expect(suite.sandbox.images.singularity).toBeUndefined();
  });

  it('rejects unknown names and filters that keep nothing, as configuration errors', () => {
    expect(() => applyRunFlags(suite, { driver: ['dockr'] })).toThrow('Unknown driver `dockr` in --driver: expected one of process, docker, singularity, charliecloud, podman');
    expect(() => applyRunFlags(suite, { scheduler: ['slurm'] })).toThrow(/--scheduler slurm matches no leg of suite suites\/m\.yaml \(legs: local x process, /);
    expect(() => applyRunFlags(suite, { driver: ['podman'] })).toThrow(expect.objectContaining({ code: 'HPCSB_CONFIG_INVALID' }));
  });
});

describe('resolveSuitePath', () => {
  it('finds a bare suite name in the package', () => {
    expect(resolveSuitePath('readiness', '/nonexistent')).toMatch(/\/suites\/readiness\.yaml$/);
  });

  it('keeps a path that does not exist as given (the loader then says it cannot read it)', () => {
    expect(resolveSuitePath('nope.yaml', '/tmp')).toBe('/tmp/nope.yaml');
  });
});
