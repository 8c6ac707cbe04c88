import { renderPlaceholders, type ExecLaunchPlan, type PlaceholderValues } from '../../drivers/driver.js';

/** POSIX single quoting: nothing inside expands. */
export function singleQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export interface BatchScriptOptions {
  /** The placement id, written as a comment. */
  id: string;
  /** The job's data dir (`{{dataDir}}`), created before the program starts. */
  dataDir: string;
  /** Touched just before the program starts: its mtime is the `started` timestamp. */
  startedFile: string;
  /** `{{bindHost}}`. */
  bindHost: string;
  /** `{{port}}`. @default '0' (the server picks a free port and reports it in its ready file) */
  port?: string;
}

/**
 * The sbatch script for an exec plan: placeholders rendered (`{{port}}` is `0`: the server picks a
 * free port on the node and reports it in its ready file), the data dir made, then
 * `exec env -i NAME=value... argv` so the program gets exactly the plan's environment (the job's
 * SLURM_* and login variables do not pass) and replaces the batch shell: scancel's SIGTERM and the
 * time limit reach the server itself.
 */
export function renderBatchScript(plan: ExecLaunchPlan, options: BatchScriptOptions): string {
  const values: PlaceholderValues = { port: options.port ?? '0', dataDir: options.dataDir, bindHost: options.bindHost };
  const env = Object.entries(plan.env).map(([name, value]) => singleQuote(`${name}=${renderPlaceholders(value, values)}`));
  const argv = plan.argv.map((arg) => singleQuote(renderPlaceholders(arg, values)));
  return [
    '#!/bin/sh',
    `# hpc-sandbox placement ${options.id} (driver ${plan.driver}), written by SlurmScheduler`,
    'set -e',
    `mkdir -p ${singleQuote(options.dataDir)}`,
    `: > ${singleQuote(options.startedFile)}`,
    `exec env -i ${[...env, ...argv].join(' ')}`,
    '',
  ].join('\n');
}
