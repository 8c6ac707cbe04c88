import { readFile } from 'node:fs/promises';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { DriverName, SandboxSpec } from '../../drivers/driver.js';
import type { PortRequest } from '../../schedulers/scheduler.js';
import { ConfigError } from '../../errors.js';
import type { ReferenceTable } from '../references.js';
import type { LegId } from '../results.js';
import { legName } from '../results.js';
import { SuiteSchema, type StartupBenchmarkConfig, type SuiteConfig, type SuiteInput } from './schema.js';

/** A check of a suite with its options validated and defaulted. */
export interface SuiteCheck {
  name: string;
  options: Record<string, unknown>;
}

/** A leg of a suite's matrix, with its display name (`nomad x docker`). */
export interface SuiteLeg extends LegId {
  name: string;
}

/** A validated suite with its matrix expanded: what the runner and the benchmarks consume. */
export interface ResolvedSuite {
  name: string;
  description: string;
  /** The file it came from (as given to `loadSuite`), or `<inline>`. */
  path: string;
  /** Matrix cells in order (scheduler-major, as listed), exclusions removed. */
  legs: readonly SuiteLeg[];
  /** Cells removed by `exclude`. */
  excluded: readonly SuiteLeg[];
  sandbox: SuiteConfig['sandbox'];
  /** `dynamic`, or `static` with the suite's port. */
  ports: PortRequest;
  nomad: SuiteConfig['nomad'];
  checks: readonly SuiteCheck[];
  benchmarks: { startup?: StartupBenchmarkConfig };
  references: ReferenceTable;
  /** Absolute references that apply only on one system, by system name. */
  systemReferences: Readonly<Record<string, ReferenceTable>>;
}

/**
 * Reads, validates and resolves a suite file. Every problem is reported at once, each as
 * `<file>:<line>:<column>: <where>: <what was expected>`, in one `ConfigError`.
 *
 * @example
 * const suite = await loadSuite('suites/readiness.yaml');
 * for (const leg of suite.legs) console.log(leg.name);
 */
export async function loadSuite(path: string): Promise<ResolvedSuite> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read suite ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseSuite(text, path);
}

/** As `loadSuite`, from YAML text already in memory; `path` only labels messages. */
export function parseSuite(text: string, path = '<inline>'): ResolvedSuite {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((error) => {
      const at = lineCounter.linePos(error.pos[0]);
      return `${path}:${at.line}:${at.col}: ${error.message.split('\n')[0]}`;
    });
    throw new ConfigError(`Invalid suite ${path}: not valid YAML\n${lines.join('\n')}`);
  }
  const result = SuiteSchema.safeParse(doc.toJS());
  if (!result.success) {
    const lines = result.error.issues.flatMap((issue) => describeIssue(issue, doc, lineCounter, path));
    throw new ConfigError(`Invalid suite ${path}:\n${lines.join('\n')}`, { cause: result.error });
  }
  return resolveSuite(result.data, path);
}

/** Validates and resolves a suite given as an object (`defineSuite(...)`); messages carry paths, not lines. */
export function resolveSuiteInput(input: SuiteInput, path = '<inline>'): ResolvedSuite {
  const result = SuiteSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${path}: ${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(`Invalid suite ${path}:\n${lines.join('\n')}`, { cause: result.error });
  }
  return resolveSuite(result.data, path);
}

/** The spec a leg on `driver` places: the suite's sandbox settings with the driver's image. */
export function sandboxSpecFor(suite: ResolvedSuite, driver: DriverName): SandboxSpec {
  const { sandbox } = suite;
  return {
    slots: sandbox.slots,
    image: sandbox.images[driver],
    envAllowlist: [...sandbox.envAllowlist],
    env: { ...sandbox.env },
    isolation: sandbox.isolation,
    token: sandbox.token,
    unconfined: sandbox.unconfined ?? (driver === 'docker' || driver === 'podman' ? true : undefined),
    ...(sandbox.expose.length ? { expose: sandbox.expose.map((grant) => ({ ...grant })) } : {}),
  };
}

function resolveSuite(config: SuiteConfig, path: string): ResolvedSuite {
  const excluded = (leg: LegId) =>
    config.matrix.exclude.some((cell) => cell.scheduler === leg.scheduler && cell.driver === leg.driver);
  const cells = config.matrix.scheduler.flatMap((scheduler) =>
    config.matrix.driver.map((driver) => ({ scheduler, driver, name: legName({ scheduler, driver }) })),
  );
  const unique = (legs: SuiteLeg[]) => legs.filter((leg, i) => legs.findIndex((other) => other.name === leg.name) === i);
  const ports: PortRequest =
    config.sandbox.ports === 'static' ? { mode: 'static', port: config.sandbox.port as number } : { mode: 'dynamic' };
  return Object.freeze({
    name: config.name,
    description: config.description,
    path,
    legs: Object.freeze(unique(cells.filter((leg) => !excluded(leg)))),
    excluded: Object.freeze(unique(cells.filter(excluded))),
    sandbox: config.sandbox,
    ports,
    nomad: config.nomad,
    checks: Object.freeze(config.checks),
    benchmarks: config.benchmarks,
    references: config.references,
    systemReferences: config.systemReferences,
  });
}

/** One line per issue; an unknown-key issue gives one line per key, each at the key itself. */
function describeIssue(issue: z.core.$ZodIssue, doc: Document, lineCounter: LineCounter, path: string): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const at = locate(doc, [...issue.path, key], lineCounter, true);
      return `${path}:${at}: ${formatPath([...issue.path, key])}: unknown field ${JSON.stringify(key)}`;
    });
  }
  if (issue.code === 'invalid_key') {
    const at = locate(doc, issue.path, lineCounter, true);
    return [`${path}:${at}: ${formatPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`];
  }
  const at = locate(doc, issue.path, lineCounter, false);
  return [`${path}:${at}: ${formatPath(issue.path)}: ${issue.message}`];
}

/**
 * `line:col` of the YAML node at `path`, or of its nearest existing ancestor when the node is
 * missing (a required field that is absent points at the object that lacks it).
 */
function locate(doc: Document, path: readonly PropertyKey[], lineCounter: LineCounter, atKey: boolean): string {
  let node: unknown = doc.contents;
  let best: Node | undefined = node as Node | undefined;
  for (const segment of path) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find((item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair && atKey && segment === path[path.length - 1]) {
        next = pair.key;
      } else {
        next = pair?.value ?? undefined;
        if (pair && next === null) next = pair.key;
      }
    } else if (isSeq(node) && typeof segment === 'number') {
      next = node.items[segment];
    }
    if (!next || typeof next !== 'object' || !('range' in next)) break;
    node = next;
    best = next as Node;
  }
  const offset = best?.range?.[0] ?? 0;
  const pos = lineCounter.linePos(offset);
  return `${pos.line}:${pos.col}`;
}

/** `checks[2].options.timeoutSec`; `(root)` for the document itself. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? String(segment) : `.${String(segment)}`))
    .join('');
}
