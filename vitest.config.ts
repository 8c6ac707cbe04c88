import { defineConfig } from 'vitest/config';

// Three projects: `unit` runs anywhere; `integration` needs real infrastructure and is gated per
// capability (test/gate.ts: skipped with the reason, or failed when HPC_SANDBOX_REQUIRE demands
// it); `bench` holds the *.bench.ts benchmarks, never part of `npm test`.
export default defineConfig({
  test: {
    env: { DEBUG_COLORS: 'no' },
    reporters: process.env.CI ? ['default', ['junit', { outputFile: 'results/junit.xml' }]] : ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'fixtures/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['src/**/*.integration.test.ts', 'test/**/*.integration.test.ts', 'suites/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          // Nomad cannot be installed here: Nomad legs run against the labelled test double.
          env: { HPC_SANDBOX_NOMAD_DOUBLE: '1' },
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Real containers and Slurm jobs compete for two cores: keep files sequential.
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          name: 'bench',
          include: [],
          // Benchmarks live in test/bench: they drive the client, servers and schedulers from above every layer.
          benchmark: { include: ['test/bench/**/*.bench.ts'] },
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
