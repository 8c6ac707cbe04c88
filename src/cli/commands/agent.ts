import { Command, Option } from 'commander';
import { DRIVER_NAMES, type DriverName } from '../../drivers/driver.js';
import { ConfigError, SandboxError } from '../../errors.js';
import { writeLine, type CliIo } from '../cli-io.js';

interface AgentFlags {
  driver: DriverName;
  config?: string;
  dataDir?: string;
  httpPort?: string;
  nomad?: string;
  startupTimeout: string;
}

/**
 * `hpc-sandbox agent`: boots a local `nomad agent -dev` with an hcl/ config rendered with free
 * ports, waits until the leg's driver is healthy, prints the address (for NOMAD_ADDR) and runs in
 * the foreground until Ctrl-C, then shuts the agent down (the dev agent destroys its allocations).
 */
export function agentCommand(
  io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, exitCode: 0 },
  options: { signal?: AbortSignal } = {},
): Command {
  return new Command('agent')
    .description('Run a local Nomad dev agent (nomad agent -dev) configured for sandbox servers, until Ctrl-C')
    .addOption(new Option('--driver <name>', 'driver the agent must run (docker -> docker plugin, others -> raw_exec)').choices([...DRIVER_NAMES]).default('process'))
    .option('--config <name|path>', 'agent config: a name under hcl/ (nomad-docker, nomad-singularity) or a file (default: by driver)')
    .option('--data-dir <dir>', 'agent data dir, allocations under <dir>/alloc (default: a temp dir removed on exit)')
    .option('--http-port <n>', 'HTTP port (default: a free port; RPC and Serf get free ports too)')
    .option('--nomad <path>', 'the nomad binary (default: nomad on PATH)')
    .option('--startup-timeout <ms>', 'longest wait for leader, ready node and healthy driver', '60000')
    .addHelpText(
      'after',
      `
Examples:
  hpc-sandbox agent --driver docker          # hcl/nomad-docker.hcl: volumes on, image gc off
  hpc-sandbox agent --driver singularity     # hcl/nomad-singularity.hcl: raw_exec on
  NOMAD_ADDR=<printed address> hpc-sandbox check --scheduler nomad --driver singularity --singularity-image ./sandbox.sif`,
    )
    .action(async (flags: AgentFlags) => {
      const startupTimeoutMs = positiveInteger(flags.startupTimeout, '--startup-timeout');
      const controller = new AbortController();
      const onSignal = () => controller.abort(new Error('interrupted'));
      // Tests (and embedding callers) stop the agent through `options.signal` instead of SIGINT.
      options.signal?.addEventListener('abort', onSignal, { once: true });
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        // Loaded on use: `serve` shares this CLI and must not pay for the Nomad agent's modules.
        const { nomadTaskDriverFor, startLocalAgent } = await import('../../schedulers/nomad/agent.js');
        const ports = flags.httpPort ? portsFrom(positiveInteger(flags.httpPort, '--http-port')) : undefined;
        const agent = await startLocalAgent({
          driver: flags.driver,
          config: flags.config,
          dataDir: flags.dataDir,
          nomadBinary: flags.nomad,
          env: io.env,
          ports,
          startupTimeoutMs,
          signal: controller.signal,
        });
        try {
          writeLine(io.stdout, `${agent.version} ready at ${agent.address} (driver ${nomadTaskDriverFor(flags.driver)} healthy)`);
          writeLine(io.stdout, `  config:   ${agent.configPath}`);
          writeLine(io.stdout, `  data dir: ${agent.dataDir}`);
          writeLine(io.stdout, `  export NOMAD_ADDR=${agent.address}`);
          writeLine(io.stdout, `  pid:      ${agent.pid}`);
          writeLine(io.stdout, 'Ctrl-C stops the agent and every allocation it runs.');
          // Until Ctrl-C, or until the agent ends on its own: a crashed agent must not leave the
          // command waiting silently.
          const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | undefined>((resolve) => {
            if (controller.signal.aborted) resolve(undefined);
            controller.signal.addEventListener('abort', () => resolve(undefined), { once: true });
            void agent.exited.then(resolve);
          });
          if (ended) {
            throw new SandboxError(
              'HPCSB_SCHEDULER_UNAVAILABLE',
              `The Nomad agent at ${agent.address} (pid ${agent.pid}) exited on its own ` +
                `(code ${ended.code}${ended.signal ? `, signal ${ended.signal}` : ''}); its last log lines:\n${agent.logs(30)}`,
            );
          }
          writeLine(io.stderr, 'stopping the Nomad agent...');
        } finally {
          await agent.stop();
        }
      } finally {
        options.signal?.removeEventListener('abort', onSignal);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`Expected \`${flag}\` to be a positive integer, got \`${text}\``);
  return value;
}

/** RPC and Serf ports right after the chosen HTTP port (Nomad's own 4646/4647/4648 layout). */
function portsFrom(http: number): { http: number; rpc: number; serf: number } {
  if (http > 65533) throw new ConfigError(`Expected \`--http-port\` to leave room for RPC and Serf (http+1, http+2), got \`${http}\``);
  return { http, rpc: http + 1, serf: http + 2 };
}
