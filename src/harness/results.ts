import type { RatioEstimate, Statistics } from '../common/statistics.js';
import type { DriverName } from '../drivers/driver.js';
import type { SchedulerName } from '../schedulers/scheduler.js';

/**
 * The result model shared by the matrix runner (which produces it), the reporters (terminal,
 * JSON, JUnit, Markdown, HTML) and the vitest entry. `report.json` is this structure, versioned by
 * `schemaVersion`: additive changes only, so users can track trends across runs.
 */
export const REPORT_SCHEMA_VERSION = 1;

export interface LegId {
  scheduler: SchedulerName;
  driver: DriverName;
}

/** `nomad x singularity` */
export function legName(leg: LegId): string {
  return `${leg.scheduler} x ${leg.driver}`;
}

export type CheckState = 'passed' | 'failed' | 'skipped' | 'degraded';

export type CheckResult =
  | { check: string; state: 'passed'; durationMs: number; details?: Record<string, unknown> }
  /** Passed, but with a weakness the operator must know about (e.g. isolation without bwrap). */
  | { check: string; state: 'degraded'; durationMs: number; reason: string; details?: Record<string, unknown> }
  | { check: string; state: 'failed'; durationMs: number; error: { message: string; code?: string } }
  | { check: string; state: 'skipped'; reason: string };

export type LegState = 'passed' | 'failed' | 'skipped';

export interface LegResult {
  leg: LegId;
  name: string;
  /** `skipped` only when the leg's software is missing (see `reason`) and the leg is not required. */
  state: LegState;
  reason?: string;
  /** True when the scheduler was a test double (the Nomad double): reports must say so. */
  double?: boolean;
  /** Versions found for the driver and scheduler. */
  versions?: { driver?: string; scheduler?: string };
  placement?: {
    id: string;
    host: string;
    port: number;
    /** ms from submit to placed, healthy, first exec. */
    phasesMs: { placed?: number; healthy?: number; firstExec?: number };
  };
  checks: CheckResult[];
  durationMs: number;
}

/** One startup measurement: submit -> placed -> /health OK -> first successful exec. */
export interface StartupSample {
  ok: boolean;
  error?: string;
  /** Milliseconds from submit. */
  placedMs?: number;
  healthyMs?: number;
  firstExecMs?: number;
}

export type StartupMode = 'sequential' | 'staggered' | 'burst' | 'warm';

export type { Statistics } from '../common/statistics.js';

/** ReFrame-style reference: pass iff value*(1) within [value*(1+lower), value*(1+upper)]; null = unbounded. */
export interface Reference {
  value: number;
  lower: number | null;
  upper: number | null;
  unit: string;
}

export interface ReferenceVerdict {
  metric: string;
  value: number;
  reference?: Reference;
  state: 'within' | 'beyond' | 'no-reference';
  message: string;
}

export interface StartupSeries {
  leg: LegId;
  name: string;
  mode: StartupMode;
  samples: StartupSample[];
  /** Statistics of time to first exec (ms). */
  stats: Statistics;
  /** Per-phase statistics (ms from submit). */
  phases: { placed?: Statistics; healthy?: Statistics; firstExec?: Statistics };
  verdicts: ReferenceVerdict[];
  /** Health-check timeout an operator should configure for this leg, with how it was derived. */
  recommendedHealthTimeoutMs?: { value: number; basis: string };
  /** The run was interrupted during this series: the figures cover the samples taken before. */
  aborted?: boolean;
  /** The bare runtime doing the same starts in the same run, nothing of ours in between. Additive. */
  baseline?: BaselineSeries;
  /** Why there is no baseline (e.g. none yet for Slurm legs). Additive. */
  baselineUnavailable?: string;
  /** Ours / bare: ratio of the medians of time to first exec, with a seeded bootstrap 95% interval. Additive. */
  overhead?: RatioEstimate;
  /** Burst mode only: what a trainer waiting for a batch of `size` sandboxes sees. Additive. */
  burst?: BurstSummary;
}

/** The bare runtime's series beside one of ours (same mode, same count). */
export interface BaselineSeries {
  /** What was started: `node sandbox-server.mjs`, `docker run IMAGE`, `ch-run`. */
  runtime: string;
  samples: StartupSample[];
  stats: Statistics;
  phases: { placed?: Statistics; healthy?: Statistics; firstExec?: Statistics };
}

/** A burst series seen as batches: `rounds` rounds of `size` starts launched together. */
export interface BurstSummary {
  size: number;
  rounds: number;
  /** Successful starts / all starts. */
  successRate: number;
  /** Per round in which every start succeeded: ms from launch until the last one's first exec. */
  allReady: Statistics;
  p50: number;
  p99: number;
  /** P99 / P50 of time to first exec: how much longer the slowest of a batch waits. */
  tailRatio: number;
}

export interface RunReport {
  schemaVersion: typeof REPORT_SCHEMA_VERSION;
  tool: { name: 'hpc-sandbox'; version: string };
  command: 'check' | 'bench';
  suite: { name: string; path: string };
  startedAt: string;
  finishedAt: string;
  host: { hostname: string; platform: string; arch: string; node: string; cpus: number };
  legs: LegResult[];
  benchmarks: StartupSeries[];
  summary: { legs: Record<LegState, number>; checks: Record<CheckState, number>; verdict: 'pass' | 'fail' };
  /** The run was cancelled (Ctrl-C, signal): legs after the cancelled one are missing. Additive. */
  aborted?: boolean;
  /** The system name absolute references were chosen for (`--system`, HPC_SANDBOX_SYSTEM). Additive. */
  system?: string;
  /** `bench --compare OLD`: this run against a previous one. Additive. */
  comparison?: Comparison;
}

/** Old and new figures of one series, as compared. */
export interface ComparedFigures {
  median: number;
  p95: number;
  successRate: number;
  n: number;
  overhead?: number;
  /** The successful samples (ms), so reports can plot both runs. */
  firstExecMs: number[];
}

export interface ComparisonRow {
  name: string;
  mode: StartupMode;
  old?: ComparedFigures;
  new?: ComparedFigures;
  /** new median / old median - 1. */
  change?: number;
  /** new/old ratio of medians with its bootstrap interval. */
  interval?: RatioEstimate;
  /** Mann-Whitney U, two-sided. */
  pValue?: number;
  verdict: 'regression' | 'improvement' | 'noise' | 'only-old' | 'only-new';
  note?: string;
}

export interface Comparison {
  /** The old report's path. */
  source: string;
  oldStartedAt: string;
  /** How rows were judged (test, alpha, threshold). */
  method: string;
  threshold: number;
  rows: ComparisonRow[];
  regressions: number;
}
