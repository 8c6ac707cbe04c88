import { PLACEHOLDERS, renderPlaceholders, type ExecLaunchPlan, type PlaceholderValues } from '../../drivers/driver.js';

/** POSIX single quoting: nothing inside expands. */
export function singleQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The batch shell variable holding the port the job picked (`{{port}}`). */
export const PORT_VARIABLE = 'HPC_SANDBOX_PORT';

/**
 * POSIX sh that picks a port no socket listens on (per /proc/net/tcp and tcp6) in 10000-32767,
 * below Linux's ephemeral range so outgoing connections do not take it meanwhile. It runs on the
 * node, so `{{port}}` in argv and env is the real port; the ready file confirms it.
 */
export const PICK_PORT = [
  'listening() { grep -q "^ *[0-9]*: [0-9A-Fa-f]*:$(printf %04X "$1") [0-9A-Fa-f]*:[0-9A-Fa-f]* 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null; }',
  'tries=0',
  'while :; do',
  `  ${PORT_VARIABLE}=$((10000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 22768))`,
  `  listening "$${PORT_VARIABLE}" || break`,
  '  tries=$((tries + 1))',
  '  [ "$tries" -lt 100 ] || { echo "hpc-sandbox: no free port found in 100 tries" >&2; exit 1; }',
  'done',
].join('\n');

export interface BatchScriptOptions {
  /** The placement id, written as a comment. */
  id: string;
  /** The job's data dir (`{{dataDir}}`), created before the program starts. */
  dataDir: string;
  /** Touched just before the program starts: its mtime is the `started` timestamp. */
  startedFile: string;
  /** `{{bindHost}}`. */
  bindHost: string;
  /** A static `{{port}}`. @default a free port picked on the node by the script (PICK_PORT) */
  port?: number;
}

/** Renders `text` as one shell word: single-quoted, except `{{port}}`, which expands `$HPC_SANDBOX_PORT`. */
function renderWord(text: string, values: Omit<PlaceholderValues, 'port'>): string {
  if (text === '') return "''";
  return text
    .split(PLACEHOLDERS.port)
    .map((piece) => (piece === '' ? '' : singleQuote(renderPlaceholders(piece, { ...values, port: PLACEHOLDERS.port }))))
    .join(`"$${PORT_VARIABLE}"`);
}

/**
 * The sbatch script for an exec plan: a port picked on the node (or the static one) put wherever
 * the plan has `{{port}}`, the other placeholders rendered, the data dir made, then
 * `exec env -i NAME=value... argv` so the program gets exactly the plan's environment (the job's
 * SLURM_* and login variables do not pass) and replaces the batch shell: scancel's SIGTERM and the
 * time limit reach the server itself. The server reports its port in its ready file.
 */
export function renderBatchScript(plan: ExecLaunchPlan, options: BatchScriptOptions): string {
  const values = { dataDir: options.dataDir, bindHost: options.bindHost };
  const env = Object.entries(plan.env).map(([name, value]) => renderWord(`${name}=${value}`, values));
  const argv = plan.argv.map((arg) => renderWord(arg, values));
  return [
    '#!/bin/sh',
    `# hpc-sandbox placement ${options.id} (driver ${plan.driver}), written by SlurmScheduler`,
    'set -e',
    options.port === undefined ? PICK_PORT : `${PORT_VARIABLE}=${options.port}`,
    `mkdir -p ${singleQuote(options.dataDir)}`,
    `: > ${singleQuote(options.startedFile)}`,
    `exec env -i ${[...env, ...argv].join(' ')}`,
    '',
  ].join('\n');
}
