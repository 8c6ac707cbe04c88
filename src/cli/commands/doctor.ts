import { Command } from 'commander';
import type { CliIo } from '../cli-io.js';

/**
 * `hpc-sandbox doctor`: what this machine offers (drivers, user namespaces, /dev/fuse, bwrap,
 * Docker socket, Nomad, Slurm), as a table or `--json`. Informational: exits 0 whatever it finds.
 */
export function doctorCommand(io: CliIo): Command {
  return new Command('doctor')
    .description('Show what this machine offers: drivers, user namespaces, /dev/fuse, bwrap, Docker, Nomad, Slurm')
    .option('--json', 'print the rows as JSON on stdout')
    .option('--profile <file>', 'site profile whose effective settings to show (default: ./hpc-sandbox.site.yaml when present)')
    .addHelpText(
      'after',
      `
Examples:
  hpc-sandbox doctor
  hpc-sandbox doctor --json | jq '.rows[] | select(.status != "ok")'

Always exits 0: doctor reports, "check" judges.`,
    )
    .action(async (flags: { json?: boolean; profile?: string }) => {
      // Loaded on use: `serve` shares this CLI and must not pay for other commands' modules.
      const [{ colorEnabled, painter, toJson }, { runDoctor }, { siteSettingRows }, { renderDoctorTable }] = await Promise.all([
        import('../../harness/report/format.js'),
        import('../doctor/run-doctor.js'),
        import('../../site/site-doctor-rows.js'),
        import('../doctor/render-doctor.js'),
      ]);
      const env = flags.profile ? { ...io.env, HPC_SANDBOX_PROFILE: flags.profile } : io.env;
      // [site profile] each effective Nomad/Slurm setting and where it came from (src/site).
      const rows = [...(await runDoctor({ env })), ...(await siteSettingRows(env))];
      if (flags.json) io.stdout.write(toJson({ rows }));
      else io.stdout.write(renderDoctorTable(rows, painter(colorEnabled(io.stdout, io.env))));
    });
}
