import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, unlinkSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { IsolationMode, IsolationReport, NetworkMode } from '../protocol/types.js';
import { findOnPath } from './find-on-path.js';
import { serverLog } from './log.js';
import type { EtcMask, Grant, RootEntry } from './sandbox-view.js';
import type { SlotLimits } from './slot-limits.js';
import type { SlotUser } from './slot-user.js';
import { networkStackArgv, type NetworkStack } from './user-net.js';

export { findOnPath } from './find-on-path.js';
export type { RootEntry } from './sandbox-view.js';

const log = serverLog('isolation');

/** One way of running bubblewrap that the probe found working. */
export interface BwrapConfig {
  bwrapPath: string;
  /** `proc`: a fresh procfs (`--proc /proc`); `bind`: the container's (`--bind /proc /proc`), which Docker allows where it refuses a new procfs. */
  procMode: 'proc' | 'bind';
  /**
   * How nested user namespaces are refused: bwrap's `--disable-userns` (it writes the nested
   * namespace's max_user_namespaces, which a read-only /proc/sys, as under Nomad's Docker driver,
   * forbids), else only the seccomp filter (unshare and clone with CLONE_NEWUSER denied).
   */
  disableUserns: boolean;
}

/** What every slot's sandbox is made of, decided once at start. */
export interface SandboxLayout {
  /** The data root holding every slot: never in the view (only the own slot is, at /workspace). */
  dataRoot: string;
  /** Host files to cover with /dev/null should they lie inside the view (the token file). */
  hiddenFiles: string[];
  shell: string;
  /** The system trees of `/` (systemRootEntries()). */
  rootEntries: RootEntry[];
  /** What of /etc an unprivileged user could not read (unreadableEtcEntries()). */
  etcMasks: EtcMask[];
  /** Operator grants (`--expose`), bound into every slot. */
  grants: Grant[];
  /** The seccomp filter (classic BPF), written to each sandbox's bwrap through a pipe; undefined: none. */
  seccompFilter?: Buffer;
  /** User-mode network stack for `allow_network: true`; undefined: none here. */
  networkStack?: NetworkStack;
  /** Resource limits of every sandbox; undefined: none (tests of the argv). */
  limits?: SlotLimits;
}

/** One sandbox to start: which slot, as whom, with what network. */
export interface SandboxTarget {
  slotDir: string;
  /** Host identity of the slot's commands (root servers); undefined: the server's own uid. */
  user?: SlotUser;
  /** `none`: only loopback; `stack`: outbound through the network stack; `host`: the host's (degraded). */
  network: NetworkMode;
  /** The fd number the seccomp filter arrives on in the child, when the layout has one. */
  seccompFd?: number;
}

/** `bash` when present (commands written for agents assume it), else POSIX `sh`. */
export function findShell(env: NodeJS.ProcessEnv = process.env): string {
  return findOnPath('bash', env) ?? findOnPath('sh', env) ?? '/bin/sh';
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Trees the sandbox shows; a hidden file elsewhere is already out of view. */
function inView(path: string, layout: SandboxLayout): boolean {
  if (isInside(path, '/etc')) return true;
  return layout.rootEntries.some((entry) => entry.kind === 'bind' && isInside(path, `/${entry.name}`)) || layout.grants.some((grant) => isInside(path, grant.source));
}

/**
 * The argv that runs `program` in one slot's sandbox. bwrap is started as the slot's uid (the
 * caller passes `uid`/`gid` to spawn), so even its own set-up never holds a host capability.
 * Inside: user, pid, ipc, uts and network namespaces; nested user namespaces disabled; the
 * seccomp filter; the system trees and /etc (with its masks) read-only on a tmpfs root; a fresh
 * /dev, /proc (with /proc/sys read-only) and /tmp; the slot at /workspace (the cwd) and the
 * grants. bwrap's binds are nosuid, so a setuid file made in the slot is inert inside and, owned
 * by the slot uid, harmless outside. `--die-with-parent` and `--new-session` keep the sandbox from
 * outliving or hijacking the server. With a network stack, pasta owns the user and network
 * namespaces and starts bwrap in them.
 */
export function bwrapArgv(config: BwrapConfig, layout: SandboxLayout, target: SandboxTarget, program: readonly string[]): string[] {
  // bwrap keeps every capability for a sandbox whose uid is 0 (the server as root inside a
  // container's user namespace, e.g. ch-run, where slot uids cannot be mapped): drop them always.
  const argv = [config.bwrapPath, '--die-with-parent', '--new-session', '--unshare-user', '--cap-drop', 'ALL'];
  if (config.disableUserns) argv.push('--disable-userns');
  if (target.user) argv.push('--uid', String(target.user.uid), '--gid', String(target.user.gid));
  argv.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'sandbox');
  // With the stack, pasta made the network namespace already; `host` is the degraded shared network.
  if (target.network === 'none') argv.push('--unshare-net');
  if (layout.seccompFilter !== undefined && target.seccompFd !== undefined) argv.push('--seccomp', String(target.seccompFd));
  argv.push('--tmpfs', '/');
  for (const entry of layout.rootEntries) {
    if (entry.kind === 'symlink') argv.push('--symlink', entry.target, `/${entry.name}`);
    else argv.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  argv.push('--ro-bind', '/etc', '/etc');
  for (const mask of layout.etcMasks) {
    if (mask.kind === 'file') argv.push('--ro-bind', '/dev/null', mask.path);
    else argv.push('--perms', '0000', '--tmpfs', mask.path, '--remount-ro', mask.path);
  }
  argv.push('--dev', '/dev');
  argv.push(...(config.procMode === 'proc' ? ['--proc', '/proc'] : ['--bind', '/proc', '/proc']));
  argv.push('--ro-bind', '/proc/sys', '/proc/sys');
  if (layout.limits) argv.push('--size', String(layout.limits.tmpBytes));
  argv.push('--tmpfs', '/tmp');
  for (const file of layout.hiddenFiles) {
    if (inView(file, layout)) argv.push('--ro-bind', '/dev/null', file);
  }
  for (const grant of layout.grants) argv.push(grant.mode === 'rw' ? '--bind' : '--ro-bind', grant.source, grant.dest);
  argv.push('--bind', target.slotDir, '/workspace', '--remount-ro', '/', '--chdir', '/workspace');
  argv.push('--setenv', 'PWD', '/workspace', '--setenv', 'HOME', '/workspace');
  argv.push('--', ...program);
  return target.network === 'stack' && layout.networkStack ? networkStackArgv(layout.networkStack, argv) : argv;
}

/** The stdio index the seccomp filter travels on (`--seccomp 3`). */
export const SECCOMP_FD = 3;

/** Feeds the filter to a child spawned with a pipe at SECCOMP_FD; bwrap reads it to the end. */
export function writeSeccompFilter(child: ChildProcess, filter: Buffer): void {
  const pipe = child.stdio[SECCOMP_FD] as NodeJS.WritableStream | null | undefined;
  if (!pipe) return;
  // A child that died first closes its end: that is reported by its exit, not as an EPIPE here.
  (pipe as unknown as { on(event: 'error', fn: () => void): void }).on('error', () => undefined);
  pipe.end(filter);
}

interface ProbeOutcome {
  ok: boolean;
  stderr: string;
}

/**
 * An already unlinked file in `dir` to take a child's stderr, or undefined when `dir` is not
 * writable. Nothing is left behind, even if the server dies.
 */
function anonymousFile(dir: string): number | undefined {
  const path = join(dir, `.hpc-sandbox-probe-${process.pid}-${Math.random().toString(36).slice(2)}.stderr`);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'w+', 0o600);
    unlinkSync(path);
    return fd;
  } catch {
    if (fd !== undefined) closeSync(fd);
    return undefined;
  }
}

/**
 * Runs one probe command. Its stderr goes to an unlinked file in `scratchDir` rather than a pipe:
 * a pipe costs the process's first spawn a stream set-up and its end one more event (about 2 ms
 * together on the path every boot waits for), and the text is read only when the probe fails.
 * Falls back to a pipe when `scratchDir` is not writable.
 */
function runProbe(argv: string[], timeoutMs: number, scratchDir: string, user: SlotUser | undefined, seccompFilter: Buffer | undefined): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const errFd = anonymousFile(scratchDir);
    const stdio: (number | 'ignore' | 'pipe')[] = ['ignore', 'ignore', errFd ?? 'pipe'];
    if (seccompFilter) stdio.push('pipe');
    const child = spawn(argv[0]!, argv.slice(1), { stdio, ...(user ? { uid: user.uid, gid: user.gid } : {}) });
    if (seccompFilter) writeSeccompFilter(child, seccompFilter);
    let piped = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      if (piped.length < 2_000) piped += chunk;
    });
    const stderr = (): string => {
      if (errFd === undefined) return piped.trim();
      const buffer = Buffer.alloc(2_000);
      return buffer.toString('utf8', 0, readSync(errFd, buffer, 0, buffer.length, 0)).trim();
    };
    let settled = false;
    const settle = (outcome: () => ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome());
      if (errFd !== undefined) closeSync(errFd);
    };
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => settle(() => ({ ok: false, stderr: error.message })));
    // With a pipe, 'close' also waits for the end of its stderr; with a file, the exit is the end.
    child.on(errFd === undefined ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) =>
      settle(() => (code === 0 ? { ok: true, stderr: '' } : { ok: false, stderr: stderr() || (signal ? `killed by ${signal} after ${timeoutMs}ms` : `exit code ${code}`) })),
    );
  });
}

/**
 * The configurations worth trying, most isolated first. All create a user namespace (bwrap runs
 * unprivileged). Without `--disable-userns` only the seccomp filter keeps nested user namespaces
 * out, so those are tried only when there is a filter.
 */
export function candidateConfigs(bwrapPath: string, seccomp = true): BwrapConfig[] {
  const out: BwrapConfig[] = [
    { bwrapPath, procMode: 'proc', disableUserns: true },
    { bwrapPath, procMode: 'bind', disableUserns: true },
  ];
  if (seccomp) out.push({ bwrapPath, procMode: 'proc', disableUserns: false }, { bwrapPath, procMode: 'bind', disableUserns: false });
  return out;
}

/** Result of probing: the report `/health` shows and, when usable, the configuration to run. */
export interface IsolationProbe {
  report: IsolationReport;
  config: BwrapConfig | undefined;
  /** What `allow_network: true` gets: `stack` (own namespace behind pasta) or `host` (degraded, shared). */
  openNetwork: NetworkMode;
}

/**
 * Finds a bubblewrap configuration that works HERE by running the real sandbox layout (slot
 * `probeSlotDir` at /workspace, as the slot's uid, with the seccomp filter) with `true`.
 * Configurations are tried most isolated first; each failure's stderr is kept so `reason` explains
 * what bwrap said. The network stack is probed the same way, in parallel: where it fails,
 * `allow_network: true` shares the host's network and the report says why (degraded).
 */
export async function probeIsolation(
  mode: IsolationMode,
  layout: SandboxLayout,
  probeSlotDir: string,
  env: NodeJS.ProcessEnv = process.env,
  user?: SlotUser,
): Promise<IsolationProbe> {
  const started = performance.now();
  const base = {
    mode,
    shell: layout.shell,
    proc_mode: null,
    user_namespace: null,
    uid: user?.uid ?? process.getuid?.() ?? null,
    seccomp: layout.seccompFilter !== undefined,
    network: { open: 'host' as NetworkMode, stack: null, reason: null as string | null },
    view: describeView(layout),
  };
  if (mode === 'off') {
    return { config: undefined, openNetwork: 'host', report: { ...base, active: false, bwrap_path: null, reason: 'isolation disabled (--isolation off)', probe_ms: null } };
  }
  const bwrapPath = findOnPath('bwrap', env);
  if (!bwrapPath) {
    return { config: undefined, openNetwork: 'host', report: { ...base, active: false, bwrap_path: null, reason: 'bwrap not found on PATH', probe_ms: null } };
  }
  const failures: string[] = [];
  const trueBinary = findOnPath('true', env) ?? '/bin/true';
  const seccompFd = layout.seccompFilter === undefined ? undefined : SECCOMP_FD;
  const attempt = (config: BwrapConfig, network: NetworkMode) =>
    runProbe(bwrapArgv(config, layout, { slotDir: probeSlotDir, user, network, seccompFd }, [trueBinary]), 5_000, layout.dataRoot, user, layout.seccompFilter);
  for (const config of candidateConfigs(bwrapPath, layout.seccompFilter !== undefined)) {
    // The stack is tried beside the plain sandbox: both wait on the same spawn costs.
    const [outcome, stackOutcome] = await Promise.all([attempt(config, 'none'), layout.networkStack ? attempt(config, 'stack') : Promise.resolve(undefined)]);
    const label = `userns+${config.procMode === 'proc' ? '--proc' : '--bind /proc'}${config.disableUserns ? '' : ' (nested userns refused by seccomp only)'}`;
    if (outcome.ok) {
      const probeMs = Math.round((performance.now() - started) * 10) / 10;
      const stackReason = !layout.networkStack
        ? 'no user-mode network stack (pasta, Debian package passt) on PATH: allow_network shares the host network, the server port included'
        : stackOutcome?.ok
          ? null
          : `pasta cannot give the sandbox a network here (${stackOutcome?.stderr || 'no output'}): allow_network shares the host network, the server port included`;
      const openNetwork: NetworkMode = stackReason === null ? 'stack' : 'host';
      log(`bwrap works with ${label}; network for allow_network: ${openNetwork} (${probeMs} ms)`);
      return {
        config,
        openNetwork,
        report: {
          ...base,
          active: true,
          proc_mode: config.procMode,
          user_namespace: true,
          nested_userns_blocked_by: config.disableUserns ? 'bwrap --disable-userns and seccomp' : 'seccomp',
          bwrap_path: bwrapPath,
          reason: null,
          probe_ms: probeMs,
          network: { open: openNetwork, stack: stackReason === null ? layout.networkStack!.path : null, reason: stackReason },
        },
      };
    }
    log(`bwrap ${label} failed: ${outcome.stderr}`);
    failures.push(`${label}: ${outcome.stderr}`);
  }
  return {
    config: undefined,
    openNetwork: 'host',
    report: {
      ...base,
      active: false,
      bwrap_path: bwrapPath,
      reason: `bwrap cannot create the sandbox here${user ? ` as the slot uid ${user.uid}` : ''} (${failures.join('; ')})`,
      probe_ms: Math.round((performance.now() - started) * 10) / 10,
    },
  };
}

/** The view `/health` lists: every mount a command sees, read-only or writable. */
export function describeView(layout: SandboxLayout): IsolationReport['view'] {
  return [
    ...layout.rootEntries.map((entry) => (entry.kind === 'bind' ? { path: `/${entry.name}`, mode: 'ro' as const, source: `/${entry.name}` } : { path: `/${entry.name}`, mode: 'symlink' as const, source: entry.target })),
    { path: '/etc', mode: 'ro' as const, source: '/etc', masked: layout.etcMasks.map((mask) => mask.path) },
    { path: '/dev', mode: 'fresh' as const, source: null },
    { path: '/proc', mode: 'fresh' as const, source: null },
    { path: '/tmp', mode: 'fresh' as const, source: null },
    { path: '/workspace', mode: 'rw' as const, source: 'the slot directory' },
    ...layout.grants.map((grant) => ({ path: grant.dest, mode: grant.mode, source: grant.source })),
  ];
}
