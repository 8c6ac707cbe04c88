import type { ExecMode, IsolationMode } from '../protocol/types.js';
import { runCommand, type OutputListener } from './run-command.js';
import { limitHit } from './slot-limits.js';
import { networkFor, spawnInSandbox, type SlotSandboxContext } from './sandbox-spawn.js';
import type { StandingOutcome, StandingSandbox } from './standing-sandbox.js';
import { toolFailure, type ToolResult } from './tool-result.js';

export interface BashContext {
  sandbox: SlotSandboxContext;
  mode: IsolationMode;
  maxOutputChars: number;
  /** Kills the command (reset, shutdown, client gone); its reason, an Error, says why in the answer. */
  signal: AbortSignal;
  /** The slot's standing sandbox (exec mode `standing`); undefined: every command spawns its own sandbox. */
  standing?: StandingSandbox;
  /** Receives output as it comes (streaming answers). */
  onOutput?: OutputListener;
}

const TRUNCATED = '\n... (output truncated)';

/**
 * The `bash` tool: runs `args.command` under bubblewrap when the probe found it usable, else
 * (auto mode) directly with the slot as cwd, saying so in `metadata.sandbox_fallback`. Refuses
 * when isolation is required (require mode, `require_sandbox`, `allow_network: false`) and
 * bubblewrap is unusable. Output follows Atropos: stdout, then `[stderr]` and stderr.
 */
export async function bashTool(args: Record<string, unknown>, timeoutSeconds: number, context: BashContext): Promise<ToolResult> {
  const { command } = args;
  if (typeof command !== 'string') {
    return toolFailure(400, `Expected \`args.command\` to be a string, got ${command === undefined ? 'undefined' : typeof command}`, { error_code: 'invalid_args' });
  }
  for (const flag of ['allow_network', 'require_sandbox'] as const) {
    if (args[flag] !== undefined && typeof args[flag] !== 'boolean') {
      return toolFailure(400, `Expected \`args.${flag}\` to be a boolean, got ${JSON.stringify(args[flag])}`, { error_code: 'invalid_args' });
    }
  }
  const allowNetwork = args.allow_network !== false;
  const requireSandbox = args.require_sandbox === true;
  const { config, report } = context.sandbox.isolation;

  if (!config) {
    const why = context.mode === 'require' ? 'the server runs with --isolation require' : requireSandbox ? 'the request sets require_sandbox' : !allowNetwork ? 'allow_network: false needs a network namespace' : undefined;
    if (why) {
      const error = !allowNetwork && context.mode !== 'require' && !requireSandbox
        ? 'Network isolation requested but bubblewrap is unavailable in this environment'
        : 'Sandboxing required but bubblewrap is unavailable in this environment';
      return toolFailure(200, `${error}: ${why}; ${report.reason}`, { sandboxed: false, network_isolated: false, requires_bwrap: true, fallback_reason: report.reason ?? undefined });
    }
  }
  const { sandbox } = context;
  const program = [sandbox.layout.shell, '-c', command];
  const sandboxed = config !== undefined;
  const network = sandboxed ? networkFor(sandbox, allowNetwork) : 'host';
  const timeoutMs = timeoutSeconds * 1000;
  const { standing, onOutput } = context;
  // The standing sandbox has the network of allow_network: true; the other mode gets a sandbox of its own.
  const useStanding = sandboxed && standing !== undefined && standing.network === network;
  const execMode: ExecMode = useStanding ? 'standing' : 'spawn';
  const outcome: StandingOutcome = useStanding
    ? await standing.run(command, { timeoutMs, maxOutputChars: context.maxOutputChars, signal: context.signal, ...(onOutput ? { onOutput } : {}) })
    : await runCommand({ start: () => spawnInSandbox(sandbox, program, { allowNetwork }), cwd: sandbox.slotDir, timeoutMs, maxOutputChars: context.maxOutputChars, signal: context.signal, ...(onOutput ? { onOutput } : {}) });

  const stdout = outcome.stdout + (outcome.truncated && outcome.stdout.length >= context.maxOutputChars ? TRUNCATED : '');
  const stderr = outcome.stderr + (outcome.truncated && outcome.stderr.length >= context.maxOutputChars ? TRUNCATED : '');
  const output = (stderr ? (stdout ? `${stdout}\n[stderr]\n${stderr}` : stderr) : stdout).trim();
  const metadata = {
    exit_code: outcome.exitCode,
    timeout: outcome.timedOut,
    sandboxed,
    network_isolated: network !== 'host',
    network,
    truncated: outcome.truncated,
    signal: outcome.signal,
    duration_ms: outcome.durationMs,
    exec_mode: execMode,
    ...(standing !== undefined && !useStanding && sandboxed ? { exec_mode_reason: `the slot's standing sandbox has network ${standing.network}; this command asked for ${network}` } : {}),
    ...(sandboxed ? {} : { sandbox_fallback: true, fallback_reason: report.reason ?? 'bubblewrap unusable' }),
    ...(sandboxed && network === 'host' ? { network_degraded: true, network_reason: report.network.reason } : {}),
  };
  // A limit the command ran into is named even when a later step of it succeeded (`cmd > big; ls`).
  const limit = sandbox.layout.limits && !outcome.timedOut && !outcome.aborted ? limitHit(outcome) : undefined;
  if (limit && outcome.exitCode !== 0) {
    return toolFailure(200, `Command hit the slot's ${limit.replace('_', ' ')} limit (exit code ${outcome.exitCode}); the limits are in /health slot_limits`, { ...metadata, limit }, output);
  }
  if (limit) Object.assign(metadata, { limit });
  if (outcome.spawnError !== undefined) {
    return toolFailure(200, `Failed to start ${sandboxed ? report.bwrap_path : program[0]} for slot ${sandbox.slotDir}: ${outcome.spawnError} (POST /reset recreates a removed slot)`, metadata);
  }
  if (outcome.sandboxDied !== undefined) {
    return toolFailure(200, `The slot's standing sandbox died during the command (${outcome.sandboxDied}); the next call starts a new one`, { ...metadata, sandbox_restarted: true }, output);
  }
  if (outcome.timedOut) return toolFailure(200, `Command timed out after ${timeoutSeconds}s`, metadata, output);
  if (outcome.aborted) {
    const why = context.signal.reason instanceof Error ? context.signal.reason.message : 'the slot was reset or the server is shutting down';
    return toolFailure(200, `Command killed: ${why}`, { ...metadata, killed: true }, output);
  }
  const success = outcome.exitCode === 0;
  return { status: 200, response: { success, output, error: success ? '' : `Exit code: ${outcome.exitCode}`, execution_id: null, metadata } };
}
