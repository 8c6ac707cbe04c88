import { hostname } from 'node:os';
import { availableParallelism, arch, platform } from 'node:os';
import { logger } from '../../common/logger.js';
import { ConfigError, isSandboxError } from '../../errors.js';
import { type HarnessComponents, type OpenedScheduler, defaultComponents } from '../components.js';
import type { RunEvent } from '../events.js';
import { parseRequirements, requiredButMissing, type Requirements } from '../requirements.js';
import { REPORT_SCHEMA_VERSION, type LegResult, type RunReport, type StartupSeries } from '../results.js';
import { sandboxSpecFor, type ResolvedSuite, type SuiteLeg } from '../suite/load.js';
import type { SchedulerName } from '../../schedulers/scheduler.js';
import { type BenchmarkLegOptions, type WarmupEvent, benchmarkLeg } from './benchmark-leg.js';
import { firstExecVia } from './first-exec.js';
import { describe } from './startup-sample.js';
import type { BenchEvent } from './startup-series.js';
import { toolVersion } from './tool-version.js';

const log = logger('bench');

export type BenchRunEvent = RunEvent | BenchEvent | WarmupEvent;

export interface RunBenchmarksOptions {
  /** @default defaultComponents() */
  components?: HarnessComponents;
  /** @default parseRequirements(env) */
  requirements?: Requirements;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onEvent?: (event: BenchRunEvent) => void;
  /** Pool for the warm mode; without it a `warm` mode in the suite is left out (logged). */
  openWarmSlots?: BenchmarkLegOptions['openWarmSlots'];
}

/**
 * `hpc-sandbox bench`: the startup benchmark of every leg of `suite` (its `benchmarks.startup`
 * section), with the same leg semantics as `check`: a leg whose driver or scheduler is missing is
 * skipped with the reason, or failed when required. A benchmarked leg passes when every series
 * had a successful start and no figure is beyond its reference.
 */
export async function runStartupBenchmarks(suite: ResolvedSuite, options: RunBenchmarksOptions = {}): Promise<RunReport> {
  const config = suite.benchmarks.startup;
  if (!config) {
    throw new ConfigError(`Suite ${suite.path} has no \`benchmarks.startup\` section: nothing to benchmark (see suites/startup.yaml)`);
  }
  const env = options.env ?? process.env;
  const components = options.components ?? defaultComponents();
  const requirements = options.requirements ?? parseRequirements(env);
  const signal = options.signal ?? new AbortController().signal;
  const emit = (event: BenchRunEvent) => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      log('progress listener threw: %s', describe(error));
    }
  };
  const startedAt = new Date();
  emit({ type: 'run:start', suite: { name: suite.name, path: suite.path }, legs: suite.legs });
  const schedulers = new Map<SchedulerName, Promise<OpenedScheduler>>();
  const legs: LegResult[] = [];
  const benchmarks: StartupSeries[] = [];
  try {
    for (const leg of suite.legs) {
      signal.throwIfAborted();
      const started = performance.now();
      emit({ type: 'leg:start', leg });
      const result = await benchmarkOneLeg(leg);
      result.durationMs = performance.now() - started;
      legs.push(result);
      emit({ type: 'leg:end', leg, result });
    }
  } finally {
    for (const opened of schedulers.values()) {
      const s = await opened.catch(() => undefined);
      if (s?.available) await s.close().catch((error: unknown) => log('closing a scheduler failed: %s', describe(error)));
    }
  }
  const report = buildReport(suite, startedAt, legs, benchmarks);
  emit({ type: 'run:end', report });
  return report;

  async function benchmarkOneLeg(leg: SuiteLeg): Promise<LegResult> {
    const base: LegResult = { leg: { scheduler: leg.scheduler, driver: leg.driver }, name: leg.name, state: 'skipped', checks: [], durationMs: 0 };
    const unavailable = (reason: string): LegResult => {
      if (requirements.requiresLeg(leg)) return { ...base, state: 'failed', reason: requiredButMissing(leg, reason) };
      emit({ type: 'leg:skip', leg, reason });
      return { ...base, state: 'skipped', reason };
    };
    if (!schedulers.has(leg.scheduler)) {
      schedulers.set(leg.scheduler, components.openScheduler(leg.scheduler, { signal, bootAgent: suite.nomad.bootAgent, env }));
    }
    const opened = await schedulers.get(leg.scheduler)!;
    if (!opened.available) return unavailable(opened.reason);
    const driver = components.driver(leg.driver);
    const detection = await driver.detect({ signal });
    if (!detection.available) return unavailable(detection.reason ?? `${leg.driver}: not available`);
    const versioned: LegResult = { ...base, double: opened.double || undefined, versions: { driver: detection.version, scheduler: opened.version } };
    const spec = sandboxSpecFor(suite, leg.driver);
    try {
      spec.image = await components.ensureImage(driver, spec, signal);
    } catch (error) {
      if (isSandboxError(error, 'HPCSB_DRIVER_UNAVAILABLE')) return { ...unavailable(describe(error)), versions: versioned.versions };
      return { ...versioned, state: 'failed', reason: `image for ${leg.driver}: ${describe(error)}` };
    }
    const series = await benchmarkLeg(
      { leg: base.leg, scheduler: opened.scheduler, driver, spec, ports: suite.ports, healthTimeoutMs: suite.sandbox.healthTimeoutMs },
      { config: config!, references: suite.references, firstExec: firstExecVia(components.client), openWarmSlots: options.openWarmSlots, onEvent: emit, signal },
    );
    benchmarks.push(...series);
    const problems = series.flatMap((s) => [
      ...(s.stats.successRate === 0 ? [`${s.mode}: no start succeeded (${s.samples.find((x) => x.error)?.error ?? 'unknown error'})`] : []),
      ...s.verdicts.filter((v) => v.state === 'beyond').map((v) => `${s.mode}: ${v.message}`),
    ]);
    return problems.length > 0 ? { ...versioned, state: 'failed', reason: problems.join('; ') } : { ...versioned, state: 'passed' };
  }
}

function buildReport(suite: ResolvedSuite, startedAt: Date, legs: LegResult[], benchmarks: StartupSeries[]): RunReport {
  const count = (state: LegResult['state']) => legs.filter((l) => l.state === state).length;
  const summaryLegs = { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'hpc-sandbox', version: toolVersion() },
    command: 'bench',
    suite: { name: suite.name, path: suite.path },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { hostname: hostname(), platform: platform(), arch: arch(), node: process.version, cpus: availableParallelism() },
    legs,
    benchmarks,
    summary: {
      legs: summaryLegs,
      checks: { passed: 0, failed: 0, skipped: 0, degraded: 0 },
      verdict: summaryLegs.failed > 0 || summaryLegs.passed === 0 ? 'fail' : 'pass',
    },
  };
}
