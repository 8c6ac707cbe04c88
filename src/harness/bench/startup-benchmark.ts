import { ConfigError } from '../../errors.js';
import { defaultComponents, type HarnessComponents } from '../components.js';
import type { PreparedLeg, RunOptions } from '../runner.js';
import type { StartupSeries } from '../results.js';
import type { ResolvedSuite } from '../suite/load.js';
import { type BenchmarkLegOptions, type WarmupEvent, benchmarkLeg } from './benchmark-leg.js';
import { referencesFor } from '../references.js';
import { firstExecVia } from './first-exec.js';
import { openWarmSlots } from './warm-slots.js';
import type { BenchEvent } from './startup-series.js';

export interface StartupBenchmarkOptions {
  /** The run's components: first execs go through its `client`. @default defaultComponents() */
  components?: HarnessComponents;
  /** Progress of warm-ups, samples and series. */
  onEvent?: (event: BenchEvent | WarmupEvent) => void;
  /** Pool for the `warm` mode. @default openWarmSlots (a SlotPool of one placement) */
  openWarmSlots?: BenchmarkLegOptions['openWarmSlots'];
  /** The bare runtime per leg. @default bareRuntimeFor; `false` measures no baseline */
  bare?: BenchmarkLegOptions['bare'];
  /** Test seam: pause before each of our placements (see BenchmarkLegOptions). */
  placementDelayMs?: number;
  /** The system absolute references are chosen for (`--system`, HPC_SANDBOX_SYSTEM, a profile name). */
  system?: string;
  /** Overrides the suite's `burstSize` (`--burst N`) and adds the burst mode when missing. */
  burstSize?: number;
}

/**
 * The `benchmark` hook of `runSuite(suite, { command: 'bench', benchmark })`: the runner prepares
 * each leg (driver, scheduler, image; skip or fail when missing) and this runs the suite's
 * `benchmarks.startup` on it.
 *
 * @throws ConfigError when the suite has no `benchmarks.startup` section.
 * @example
 * const report = await runSuite(suite, { command: 'bench', benchmark: startupBenchmark(suite), signal });
 */
export function startupBenchmark(
  suite: ResolvedSuite,
  options: StartupBenchmarkOptions = {},
): NonNullable<RunOptions['benchmark']> {
  const configured = suite.benchmarks.startup;
  if (!configured) {
    throw new ConfigError(`Suite ${suite.path} has no \`benchmarks.startup\` section: nothing to benchmark (see suites/startup.yaml)`);
  }
  const config = options.burstSize
    ? { ...configured, burstSize: options.burstSize, modes: configured.modes.includes('burst') ? configured.modes : [...configured.modes, 'burst' as const] }
    : configured;
  const components = options.components ?? defaultComponents();
  return (prepared: PreparedLeg, signal: AbortSignal): Promise<StartupSeries[]> =>
    benchmarkLeg(
      {
        leg: { scheduler: prepared.leg.scheduler, driver: prepared.leg.driver },
        scheduler: prepared.scheduler,
        driver: prepared.driver,
        spec: prepared.spec,
        ports: prepared.ports,
        healthTimeoutMs: prepared.healthTimeoutMs,
      },
      {
        config,
        references: referencesFor(suite.references, suite.systemReferences, options.system),
        firstExec: firstExecVia(components.client),
        openWarmSlots: options.openWarmSlots ?? openWarmSlots,
        bare: options.bare,
        placementDelayMs: options.placementDelayMs,
        onEvent: options.onEvent,
        signal,
      },
    );
}
