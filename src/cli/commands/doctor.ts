import { Command } from 'commander';
import { colorEnabled, painter, toJson } from '../../harness/report/format.js';
import type { CliIo } from '../cli-io.js';
import { runDoctor } from '../doctor/run-doctor.js';
import { renderDoctorTable } from '../doctor/render-doctor.js';

/**
 * `hpc-sandbox doctor`: what this machine offers (drivers, user namespaces, /dev/fuse, bwrap,
 * Docker socket, Nomad, Slurm), as a table or `--json`. Informational: exits 0 whatever it finds.
 */
export function doctorCommand(io: CliIo): Command {
  return new Command('doctor')
    .description('Show what this machine offers: drivers, user namespaces, /dev/fuse, bwrap, Docker, Nomad, Slurm')
    .option('--json', 'print the rows as JSON on stdout')
    .addHelpText(
      'after',
      `
Examples:
  hpc-sandbox doctor
  hpc-sandbox doctor --json | jq '.rows[] | select(.status != "ok")'

Always exits 0: doctor reports, "check" judges.`,
    )
    .action(async (flags: { json?: boolean }) => {
      const rows = await runDoctor({ env: io.env });
      if (flags.json) io.stdout.write(toJson({ rows }));
      else io.stdout.write(renderDoctorTable(rows, painter(colorEnabled(io.stdout, io.env))));
    });
}
