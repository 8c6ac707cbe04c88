import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';

/**
 * `hpc-sandbox cleanup [--older-than DURATION] [--dry-run]`: finds the containers, Slurm jobs and
 * Nomad jobs that dead runs left (each carries its run label) and stops them.
 */
export function cleanupCommand(io: CliIo): Command {
  return new Command('cleanup')
    .description('Stop what dead runs left: containers, Slurm jobs and Nomad jobs carrying an hpc-sandbox run label')
    .option('--older-than <duration>', 'also count runs started longer ago than this as dead (90s, 30m, 2h, 1d), whatever their pid')
    .option('--dry-run', 'list what would be stopped, stop nothing')
    .option('--profile <file>', 'site profile naming the schedulers to sweep (default: ./hpc-sandbox.site.yaml)')
    .option('--json', 'print the findings as JSON')
    .addHelpText(
      'after',
      `
A run is dead when its process on this host is gone, or (with --older-than) it started longer ago
than DURATION. Runs of other hosts are judged by --older-than only. Things without an hpc-sandbox
run label are never touched.

Examples:
  hpc-sandbox cleanup --dry-run
  hpc-sandbox cleanup --older-than 12h --profile site.yaml`,
    )
    .action(async (flags: { olderThan?: string; dryRun?: boolean; profile?: string; json?: boolean }) => {
      // Loaded on use: `serve` shares this CLI and must not pay for other commands' modules.
      const [{ toJson }, { parseDuration, sweepLeftovers }] = await Promise.all([import('../../harness/report/format.js'), import('../../cleanup/sweep-leftovers.js')]);
      const env = { ...io.env, ...(flags.profile ? { HPC_SANDBOX_PROFILE: flags.profile } : {}) };
      const olderThanMs = flags.olderThan === undefined ? undefined : parseDuration(flags.olderThan);
      const { leftovers, skipped } = await sweepLeftovers({ env, dryRun: flags.dryRun ?? false, ...(olderThanMs !== undefined ? { olderThanMs } : {}) });
      if (flags.json) {
        io.stdout.write(toJson({ dryRun: flags.dryRun ?? false, leftovers, skipped }));
        return;
      }
      const verb = flags.dryRun ? 'would stop' : 'stopped';
      for (const item of leftovers) {
        io.stdout.write(`${item.removeError ? 'FAILED to stop' : verb} ${item.kind} ${item.id} (run ${item.runId}: ${item.why})${item.removeError ? `: ${item.removeError}` : ''}\n`);
      }
      for (const line of skipped) io.stdout.write(`skipped ${line}\n`);
      if (leftovers.length === 0) io.stdout.write('nothing left by dead runs\n');
    });
}
