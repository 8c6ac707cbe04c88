import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { loadSuite, parseSuite, resolveSuiteInput, sandboxSpecFor } from './load.js';
import { defineSuite } from './schema.js';

const minimal = `name: smoke
matrix:
  scheduler: [local]
  driver: [process]
checks: [bash]
`;

function errorOf(text: string, path = 'suites/bad.yaml'): string {
  try {
    parseSuite(text, path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('HPCSB_CONFIG_INVALID');
    return (error as Error).message;
  }
  throw new Error('expected the suite to be rejected');
}

describe('parseSuite', () => {
  it('applies defaults to a minimal suite', () => {
    const suite = parseSuite(minimal, 'suites/smoke.yaml');
    expect(suite.name).toBe('smoke');
    expect(suite.path).toBe('suites/smoke.yaml');
    expect(suite.legs).toEqual([{ scheduler: 'local', driver: 'process', name: 'local x process' }]);
    expect(suite.ports).toEqual({ mode: 'dynamic' });
    expect(suite.sandbox).toMatchObject({ slots: 4, isolation: 'auto', envAllowlist: [], env: {}, healthTimeoutMs: 120_000 });
    expect(suite.checks).toEqual([{ name: 'bash', options: { timeoutSec: 1, sleepSec: 2 } }]);
    expect(suite.nomad).toEqual({ bootAgent: true });
    expect(suite.references).toEqual({});
    expect(Object.isFrozen(suite)).toBe(true);
  });

  it('expands the matrix scheduler-major and removes exclusions', () => {
    const suite = parseSuite(`name: m
matrix:
  scheduler: [local, nomad]
  driver: [process, docker, podman]
  exclude:
    - { scheduler: nomad, driver: podman }
checks: [bash]
`);
    expect(suite.legs.map((l) => l.name)).toEqual([
      'local x process',
      'local x docker',
      'local x podman',
      'nomad x process',
      'nomad x docker',
    ]);
    expect(suite.excluded.map((l) => l.name)).toEqual(['nomad x podman']);
  });

  it('reads check options, static ports, images, benchmarks and references', () => {
    const suite = parseSuite(`name: full
description: everything
matrix: { scheduler: [local], driver: [docker] }
sandbox:
  slots: 2
  ports: static
  port: 18080
  envAllowlist: [HOME]
  env: { A: "{{port}}" }
  isolation: require
  images: { docker: "hpc-sandbox:test" }
checks:
  - name: concurrency
    options: { sleepSec: 0.5 }
  - port-binding
benchmarks:
  startup: { modes: [sequential, burst], iterations: 5, burstSize: 3 }
references:
  "*":
    startup.median: { value: 500, lower: null, upper: 2, unit: ms }
  "local x docker":
    startup.p95: { value: 2000, lower: -1, upper: 1.5, unit: ms }
`);
    expect(suite.ports).toEqual({ mode: 'static', port: 18080 });
    expect(suite.checks).toEqual([
      { name: 'concurrency', options: { sleepSec: 0.5 } },
      { name: 'port-binding', options: { static: true } },
    ]);
    expect(suite.benchmarks.startup).toEqual({ modes: ['sequential', 'burst'], iterations: 5, staggerMs: 200, burstSize: 3, warmup: 1 });
    expect(suite.references['local x docker']?.['startup.p95']).toEqual({ value: 2000, lower: -1, upper: 1.5, unit: 'ms' });
    expect(sandboxSpecFor(suite, 'docker')).toEqual({
      slots: 2,
      image: 'hpc-sandbox:test',
      envAllowlist: ['HOME'],
      env: { A: '{{port}}' },
      isolation: 'require',
      token: undefined,
      unconfined: true,
    });
  });
});

describe('invalid suites: file, line and what was expected', () => {
  it('names an unknown check with the known ones', () => {
    expect(errorOf(`${minimal.replace('checks: [bash]', 'checks:\n  - bash\n  - bsh')}`)).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:7:5: checks[1]: unknown check "bsh"; expected one of: port-binding, env-expansion, bash, files, isolation, reset, batch, concurrency, stateful',
    );
  });

  it('names an exclusion that matches no cell of the matrix', () => {
    expect(errorOf('name: x\nmatrix:\n  scheduler: [local]\n  driver: [process]\n  exclude:\n    - { scheduler: nomad, driver: process }\n')).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:6:7: matrix.exclude[0]: excludes nomad x process, which is not a cell of the matrix (scheduler: local; driver: process)',
    );
  });

  it('names a reference for a leg the matrix does not have', () => {
    expect(errorOf(`${minimal}references:\n  "local x docker":\n    startup.median: { value: 1, lower: null, upper: 1, unit: ms }\n`)).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:8:5: references.local x docker: leg "local x docker" is not a cell of the matrix (scheduler: local; driver: process)',
    );
  });

  it('names an unknown driver at its line', () => {
    expect(errorOf('name: x\nmatrix:\n  scheduler: [local]\n  driver: [process, dockr]\n')).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:4:21: matrix.driver[1]: unknown driver "dockr"; expected one of: process, docker, singularity, charliecloud, podman',
    );
  });

  it('reports wrong types, bad check options and unknown fields together', () => {
    const message = errorOf(`name: x
matrix:
  scheduler: [local]
  driver: [process]
sandbox:
  slots: four
  colour: blue
checks:
  - name: bash
    options:
      timeoutSec: "1"
`);
    expect(message).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:6:10: sandbox.slots: Invalid input: expected number, received string\n' +
        'suites/bad.yaml:7:3: sandbox.colour: unknown field "colour"\n' +
        'suites/bad.yaml:11:19: checks[0].options.timeoutSec: Invalid input: expected number, received string',
    );
  });

  it('points a missing field at the object lacking it', () => {
    expect(errorOf('name: x\nmatrix:\n  scheduler: [local]\n')).toBe(
      'Invalid suite suites/bad.yaml:\nsuites/bad.yaml:3:3: matrix.driver: Invalid input: expected array, received undefined',
    );
  });

  it('explains static ports without a port and bad reference keys', () => {
    const message = errorOf(`${minimal}sandbox:
  ports: static
references:
  "local y docker":
    startup.median: { value: 1, lower: null, upper: 1, unit: ms }
  "*":
    startup.median: { value: 1, lower: 0.5, upper: 0.1, unit: ms }
`);
    expect(message).toBe(
      'Invalid suite suites/bad.yaml:\n' +
        'suites/bad.yaml:7:3: sandbox.port: `ports: static` needs `port: <1-65535>`\n' +
        'suites/bad.yaml:9:3: references.local y docker: unknown leg "local y docker"; expected "*" or "<scheduler> x <driver>" such as "local x docker"\n' +
        'suites/bad.yaml:12:40: references.*.startup.median.lower: lower (0.5) is above upper (0.1)',
    );
  });

  it('reports YAML syntax errors with their position', () => {
    expect(errorOf('name: x\nmatrix: [\n')).toMatch(/^Invalid suite suites\/bad\.yaml: not valid YAML\nsuites\/bad\.yaml:\d+:\d+: /);
  });
});

describe('loadSuite', () => {
  it('reads a file and reports a missing one by path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hpcsb-suite-'));
    try {
      await writeFile(join(dir, 'smoke.yaml'), minimal);
      expect((await loadSuite(join(dir, 'smoke.yaml'))).legs).toHaveLength(1);
      await expect(loadSuite(join(dir, 'absent.yaml'))).rejects.toThrow(`Cannot read suite ${join(dir, 'absent.yaml')}: ENOENT`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('validates suites written in TypeScript with defineSuite', () => {
    const suite = resolveSuiteInput(defineSuite({ name: 'ts', matrix: { scheduler: ['local'], driver: ['process'] }, checks: ['reset'] }));
    expect(suite.checks).toEqual([{ name: 'reset', options: {} }]);
    expect(() => resolveSuiteInput({ name: 'ts', matrix: { scheduler: ['local'], driver: ['process'] }, checks: ['nope'] })).toThrow(
      'Invalid suite <inline>:\n<inline>: checks[0]: unknown check "nope"',
    );
  });
});
