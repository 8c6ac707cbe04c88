import { Command, Option } from 'commander';
import { UnavailableError } from '../../errors.js';
import { IMAGE_FORMATS, type ImageFormat } from '../../images/image-format.js';
import type { EnsuredImage } from '../../images/index.js';
import type { CliIo } from '../cli-io.js';
import { EXIT } from '../exit-codes.js';
import { handleInterrupts } from '../interrupt.js';

/** One line of `image build`'s outcome. */
export type ImageBuildOutcome =
  | ({ state: 'built' | 'cached' } & EnsuredImage)
  | { state: 'skipped'; format: ImageFormat; reason: string }
  | { state: 'failed'; format: ImageFormat; error: string };

/**
 * `hpc-sandbox image build [--format docker|squashfs|dir|sif|all]`: builds the sandbox images
 * offline from this host (no registry), cached by content under the cache dir. With `all`, a
 * format whose tool is missing (no Docker Engine, neither apptainer nor siftool...) is skipped with its reason; a format asked for by
 * name that cannot be built here exits 3.
 */
export function imageCommand(io?: CliIo): Command {
  const out = io ?? { stdout: process.stdout, stderr: process.stderr, env: process.env, exitCode: 0 };
  const setExit = (code: number) => {
    out.exitCode = code;
    if (!io) process.exitCode = code;
  };
  const build = new Command('build')
    .description('Build the sandbox images offline from this host (node, sh, bash, bwrap, tmux, the server bundle); cached by content')
    .addOption(new Option('--format <format>', 'which image to build').choices([...IMAGE_FORMATS, 'all']).default('all'))
    .option('--json', 'print the outcome as JSON on stdout')
    .addHelpText(
      'after',
      `
Formats:
  docker    docker import of the root filesystem: hpc-sandbox/sandbox:<hash> and :local
  squashfs  <cache>/images/<hash>/sandbox.sqfs for ch-run (link: <cache>/images/hpc-sandbox.sqfs)
  dir       <cache>/images/<hash>/rootfs, a directory image (link: <cache>/images/hpc-sandbox.dir)
  sif       <cache>/images/<hash>/sandbox.sif for apptainer (link: <cache>/images/hpc-sandbox.sif):
            apptainer build where apptainer or singularity exists, else siftool (Debian siftool +
            mksquashfs, no Apptainer needed); \`hpc-sandbox doctor\` says which

The cache is HPC_SANDBOX_CACHE_DIR, else <package>/.cache. A build runs only when its inputs changed.
With a registry, the online recipes build the same layout: fixtures/images/Dockerfile (docker build)
and fixtures/images/sandbox.def (apptainer build).

Exit codes:
  0    every format asked for is built or cached (with all, a format whose tool is missing is skipped)
  1    a build failed
  3    the format named with --format cannot be built here (its tool is missing)
  130  interrupted (Ctrl-C)`,
    )
    .action(async (flags: { format: ImageFormat | 'all'; json?: boolean }) => {
      const formats = flags.format === 'all' ? IMAGE_FORMATS : [flags.format];
      const controller = new AbortController();
      const removeHandlers = handleInterrupts(controller, out.stderr);
      const outcomes: ImageBuildOutcome[] = [];
      try {
        for (const format of formats) {
          outcomes.push(await buildOne(format, out, controller.signal));
          if (controller.signal.aborted) break;
        }
      } finally {
        removeHandlers();
      }
      if (flags.json) out.stdout.write(JSON.stringify({ images: outcomes }, null, 2) + '\n');
      else out.stdout.write(outcomes.map(describeOutcome).join('\n') + '\n');
      setExit(exitCodeFor(outcomes, flags.format === 'all', controller.signal.aborted));
    });
  return new Command('image').description('Sandbox images: build them offline from this host').addCommand(build);
}

async function buildOne(format: ImageFormat, io: Pick<CliIo, 'stderr' | 'env'>, signal: AbortSignal): Promise<ImageBuildOutcome> {
  try {
    // Loaded on use: `serve` shares this CLI and must not pay for the image builders.
    const { ensureImage } = await import('../../images/index.js');
    const image = await ensureImage(format, { signal, env: io.env, onProgress: (p) => io.stderr.write(`${p.format}: ${p.message}\n`) });
    return { state: image.cached ? 'cached' : 'built', ...image };
  } catch (error) {
    if (error instanceof UnavailableError) return { state: 'skipped', format, reason: error.reason };
    return { state: 'failed', format, error: error instanceof Error ? error.message : String(error) };
  }
}

function describeOutcome(outcome: ImageBuildOutcome): string {
  const head = `${outcome.format.padEnd(9)} ${outcome.state.padEnd(8)}`;
  switch (outcome.state) {
    case 'built':
    case 'cached':
      return `${head} ${outcome.ref}${outcome.ref === outcome.defaultRef ? '' : ` (default: ${outcome.defaultRef})`}`;
    case 'skipped':
      return `${head} ${outcome.reason}`;
    case 'failed':
      return `${head} ${outcome.error}`;
  }
}

function exitCodeFor(outcomes: ImageBuildOutcome[], all: boolean, aborted: boolean): number {
  if (aborted) return EXIT.interrupted;
  if (outcomes.some((o) => o.state === 'failed')) return EXIT.failed;
  if (!all && outcomes.some((o) => o.state === 'skipped')) return EXIT.requiredUnavailable;
  return EXIT.pass;
}
