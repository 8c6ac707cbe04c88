import { Command } from 'commander';
import { colorEnabled, painter, toJson } from '../../harness/report/format.js';
import type { CliIo } from '../cli-io.js';
import { runDoctor } from '../doctor/run-doctor.js';
import { siteSettingRows } from '../../site/site-doctor-rows.js';
import { renderDoctorTable } from '../doctor/render-doctor.js';

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
      const env = flags.profile ? { ...io.env, HPC_SANDBOX_PROFILE: flags.profile } : io.env;
      // [site profile] each effective Nomad/Slurm setting and where it came from (src/site).
      const rows = [...(await runDoctor({ env })), ...(await siteSettingRows(env))];
      if (flags.json) io.stdout.write(toJson({ rows }));
      else io.stdout.write(renderDoctorTable(rows, painter(colorEnabled(io.stdout, io.env))));
    });
}
