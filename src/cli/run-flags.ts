import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { projectRoot } from '../common/paths.js';
import { DRIVER_NAMES } from '../drivers/driver.js';
import { ConfigError } from '../errors.js';
import type { ResolvedSuite } from '../harness/suite/load.js';
import { SCHEDULER_NAMES } from '../schedulers/scheduler.js';

/** Flags shared by `check` and `bench`, as commander hands them over. */
export interface RunFlags {
  scheduler?: string[];
  driver?: string[];
  'env.driver'?: string[];
  json?: boolean;
  report?: string;
  require?: string[];
  singularityImage?: string;
  'env.singularity_image'?: string;
  /** Site profile file (carried to the run as HPC_SANDBOX_PROFILE). */
  profile?: string;
  verbose?: boolean;
}

/** Accumulates a repeatable flag whose values may also be comma lists (`--driver a,b --driver c`). */
const list = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

/** Adds the shared flags to `command`. The `--env.*` spellings mirror the Nomad job variables of the reference system. */
export function addRunFlags(command: Command): Command {
  return command
    .option('--scheduler <names>', `only legs on these schedulers (${SCHEDULER_NAMES.join(', ')}); repeatable or comma list`, list)
    .option('--driver <names>', `only legs on these drivers (${DRIVER_NAMES.join(', ')}); repeatable or comma list`, list)
    .addOption(new Option('--env.driver <names>', 'alias of --driver (Nomad parity)').argParser(list))
    .option('--json', 'print the RunReport as JSON on stdout (progress goes to stderr)')
    .option('--report <dir>', 'write report.json, junit.xml, summary.md and report.html into DIR')
    .option('--require <legs>', 'legs that must run, as HPC_SANDBOX_REQUIRE (local:docker, nomad:*, bwrap); repeatable or comma list', list)
    .option('--profile <file>', 'site profile (default: ./hpc-sandbox.site.yaml when present); see docs/site-profiles.md')
    .option('--singularity-image <path>', 'SIF image for singularity legs (overrides the suite)')
    .addOption(new Option('--env.singularity_image <path>', 'alias of --singularity-image (Nomad parity)'))
    .option('--verbose', 'also print check starts, warm-ups and every sample; stack traces of errors');
}

/**
 * A suite argument as a path: an existing file as given; otherwise a bare name (`readiness`) or
 * `suites/<name>.yaml` looked up in the installed package, so `npx hpc-sandbox check` works
 * from any directory.
 */
export function resolveSuitePath(arg: string, cwd: string = process.cwd()): string {
  const direct = resolve(cwd, arg);
  if (existsSync(direct)) return direct;
  const name = arg.replace(/^suites\//, '').replace(/\.ya?ml$/, '');
  const packaged = join(projectRoot(), 'suites', `${name}.yaml`);
  return existsSync(packaged) ? packaged : direct;
}

/**
 * Applies the flags to a loaded suite: the singularity image override, and the legs kept by
 * --scheduler/--driver (returned as leg names for `runSuite`). Unknown names and a filter that
 * keeps no leg are usage errors.
 */
export function applyRunFlags(suite: ResolvedSuite, flags: RunFlags): { suite: ResolvedSuite; legs: string[] | undefined } {
  const schedulers = flags.scheduler ?? [];
  const drivers = [...(flags.driver ?? []), ...(flags['env.driver'] ?? [])];
  for (const s of schedulers) {
    if (!(SCHEDULER_NAMES as readonly string[]).includes(s)) throw new ConfigError(`Unknown scheduler \`${s}\` in --scheduler: expected one of ${SCHEDULER_NAMES.join(', ')}`);
  }
  for (const d of drivers) {
    if (!(DRIVER_NAMES as readonly string[]).includes(d)) throw new ConfigError(`Unknown driver \`${d}\` in --driver: expected one of ${DRIVER_NAMES.join(', ')}`);
  }
  const image = flags.singularityImage ?? flags['env.singularity_image'];
  const withImage: ResolvedSuite = image
    ? { ...suite, sandbox: { ...suite.sandbox, images: { ...suite.sandbox.images, singularity: resolve(image) } } }
    : suite;
  if (schedulers.length === 0 && drivers.length === 0) return { suite: withImage, legs: undefined };
  const kept = suite.legs.filter(
    (leg) => (schedulers.length === 0 || schedulers.includes(leg.scheduler)) && (drivers.length === 0 || drivers.includes(leg.driver)),
  );
  if (kept.length === 0) {
    const filter = [schedulers.length ? `--scheduler ${schedulers.join(',')}` : '', drivers.length ? `--driver ${drivers.join(',')}` : ''].filter(Boolean).join(' ');
    throw new ConfigError(`${filter} matches no leg of suite ${suite.path} (legs: ${suite.legs.map((l) => l.name).join(', ')})`);
  }
  return { suite: withImage, legs: kept.map((leg) => leg.name) };
}
