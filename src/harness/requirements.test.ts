import { describe, expect, it } from 'vitest';
import { parseRequirements, requiredButMissing } from './requirements.js';

describe('parseRequirements (HPC_SANDBOX_REQUIRE)', () => {
  const require = (value: string | undefined) => parseRequirements(value === undefined ? {} : { HPC_SANDBOX_REQUIRE: value });

  it('requires nothing when unset or empty', () => {
    expect(require(undefined).requiresLeg({ scheduler: 'local', driver: 'docker' })).toBe(false);
    expect(require(' , ').tokens).toEqual([]);
  });

  it('matches scheduler:driver tokens, with * on either side', () => {
    const r = require('local:docker, nomad:*,*:charliecloud');
    expect(r.requiresLeg({ scheduler: 'local', driver: 'docker' })).toBe(true);
    expect(r.requiresLeg({ scheduler: 'local', driver: 'process' })).toBe(false);
    expect(r.requiresLeg({ scheduler: 'nomad', driver: 'podman' })).toBe(true);
    expect(r.requiresLeg({ scheduler: 'slurm', driver: 'charliecloud' })).toBe(true);
  });

  it('reads a bare driver name as every leg on it, bwrap as real isolation, and ignores other capabilities', () => {
    const r = require('docker,bwrap,squashfs');
    expect(r.requiresLeg({ scheduler: 'nomad', driver: 'docker' })).toBe(true);
    expect(r.requiresLeg({ scheduler: 'local', driver: 'charliecloud' })).toBe(false);
    expect(r.requiresBwrap).toBe(true);
    expect(require('docker').requiresBwrap).toBe(false);
  });

  it('refuses a leg token with an unknown scheduler or driver, so a typo cannot silently require nothing', () => {
    expect(() => require('local:dokcer')).toThrow(
      'HPC_SANDBOX_REQUIRE (or --require) token "local:dokcer": unknown driver "dokcer"; expected * or one of process, docker, singularity, charliecloud, podman',
    );
    expect(() => require('docker, nomda:*')).toThrow('token "nomda:*": unknown scheduler "nomda"');
    expect(() => require('local:docker:x')).toThrow('token "local:docker:x": expected scheduler:driver');
    expect(() => require('local:')).toThrow('unknown driver ""');
  });

  it('words the failure of a required leg', () => {
    expect(requiredButMissing({ scheduler: 'nomad', driver: 'singularity' }, 'apptainer: not on PATH')).toBe(
      'nomad x singularity is required by HPC_SANDBOX_REQUIRE but cannot run: apptainer: not on PATH',
    );
  });
});
