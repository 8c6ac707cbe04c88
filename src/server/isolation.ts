import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, lstatSync, openSync, readdirSync, readlinkSync, readSync, statSync, unlinkSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import type { IsolationMode, IsolationReport } from '../protocol/types.js';
import { serverLog } from './log.js';

const log = serverLog('isolation');

/** One way of running bubblewrap that the probe found working. */
export interface BwrapConfig {
  bwrapPath: string;
  /** `proc`: a fresh procfs (`--proc /proc`); `bind`: the container's (`--bind /proc /proc`), which Docker allows where it refuses a new procfs. */
  procMode: 'proc' | 'bind';
  /** Create a user namespace. Only root may go without one. */
  userNamespace: boolean;
}

/** Where the sandbox sits and what it must hide. */
export interface SandboxLayout {
  /** The data root holding every slot: hidden (tmpfs) so a slot sees neither its siblings nor the root. */
  dataRoot: string;
  /** Host files bwrap must mask with /dev/null (the token file). */
  hiddenFiles: string[];
  shell: string;
  /** From hostRootEntries(). */
  rootEntries: RootEntry[];
}

/**
 * Finds `name` on PATH with synchronous stats: a handful of syscalls, cheaper than a promise chain
 * at boot. Missing candidates are skipped without an exception (each thrown error costs a stack
 * trace, and the boot looks up three names through every PATH entry before the probe starts).
 */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate, { throwIfNoEntry: false })?.isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not executable, or a PATH entry that is not a directory
    }
  }
  return undefined;
}

/** `bash` when present (commands written for agents assume it), else POSIX `sh`. */
export function findShell(env: NodeJS.ProcessEnv = process.env): string {
  return findOnPath('bash', env) ?? findOnPath('sh', env) ?? '/bin/sh';
}

function isInside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** One entry of the host root as the sandbox recreates it. */
export type RootEntry = { name: string; kind: 'bind' } | { name: string; kind: 'symlink'; target: string };

/** Host paths the sandbox provides itself, never bound from the host. */
const PROVIDED = new Set(['proc', 'dev', 'tmp', 'workspace']);

/**
 * The top-level entries of `/` to recreate read-only in the sandbox. Read once at start: the root
 * of a container does not change, and it saves a readdir per command.
 */
export function hostRootEntries(root = '/'): RootEntry[] {
  const out: RootEntry[] = [];
  // The entry types come with the listing (one getdents instead of an lstat per entry); only a
  // file system that does not report types needs the lstat.
  const entries = readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const name = entry.name;
    if (PROVIDED.has(name)) continue;
    try {
      const known = entry.isSymbolicLink() || entry.isDirectory() || entry.isFile() || entry.isSocket() || entry.isFIFO() || entry.isBlockDevice() || entry.isCharacterDevice();
      const isLink = known ? entry.isSymbolicLink() : lstatSync(join(root, name)).isSymbolicLink();
      out.push(isLink ? { name, kind: 'symlink', target: readlinkSync(join(root, name)) } : { name, kind: 'bind' });
    } catch {
      // vanished while listing
    }
  }
  return out;
}

/**
 * The bwrap argv that runs `command` in one slot: user, pid, ipc and uts namespaces (network too
 * when `allowNetwork` is false), the host root recreated read-only on a tmpfs (a read-only root
 * could not hold the /workspace mount point), a fresh /dev and /tmp, the data root left out or
 * covered by an empty tmpfs, and only the slot bound writable at /workspace (the cwd).
 * `--die-with-parent` and `--new-session` keep the sandbox from outliving or hijacking the server.
 */
export function bwrapArgv(config: BwrapConfig, layout: SandboxLayout, slotDir: string, command: string, allowNetwork: boolean): string[] {
  const argv = ['--die-with-parent', '--new-session'];
  // Without a user namespace, bwrap run by root leaves the command root's capabilities in the
  // server's own namespace (CAP_SYS_ADMIN, CAP_MKNOD: mount a disk and walk out).
  argv.push(...(config.userNamespace ? ['--unshare-user'] : ['--cap-drop', 'ALL']));
  argv.push('--unshare-pid', '--unshare-ipc', '--unshare-uts');
  if (!allowNetwork) argv.push('--unshare-net');
  argv.push('--tmpfs', '/');
  const dataTop = layout.dataRoot.split(sep)[1];
  const dataRootIsTop = layout.dataRoot === `/${dataTop}`;
  for (const entry of layout.rootEntries) {
    if (entry.kind === 'symlink') argv.push('--symlink', entry.target, `/${entry.name}`);
    else if (!(dataRootIsTop && entry.name === dataTop)) argv.push('--ro-bind', `/${entry.name}`, `/${entry.name}`);
  }
  argv.push('--dev', '/dev');
  argv.push(...(config.procMode === 'proc' ? ['--proc', '/proc'] : ['--bind', '/proc', '/proc']));
  argv.push('--tmpfs', '/tmp');
  // Under /tmp the data root is gone with the fresh tmpfs; a top-level one was not bound; else cover it.
  if (!isInside(layout.dataRoot, '/tmp') && !dataRootIsTop) argv.push('--tmpfs', layout.dataRoot);
  for (const file of layout.hiddenFiles) {
    if (!isInside(file, '/tmp') && !isInside(file, layout.dataRoot)) argv.push('--ro-bind', '/dev/null', file);
  }
  argv.push('--bind', slotDir, '/workspace', '--remount-ro', '/', '--chdir', '/workspace');
  argv.push('--setenv', 'PWD', '/workspace', '--setenv', 'HOME', '/workspace');
  argv.push('--', layout.shell, '-c', command);
  return [config.bwrapPath, ...argv];
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
  const path = join(dir, `.hpc-sandbox-probe-${process.pid}.stderr`);
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
function runProbe(argv: string[], timeoutMs: number, scratchDir: string): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const errFd = anonymousFile(scratchDir);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', errFd ?? 'pipe'] });
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
 * The configurations worth trying, most isolated first. The container's /proc is bound only
 * inside a user namespace: without one, a command could reach the server and the commands of
 * other slots through `/proc/<pid>/root` and `/proc/<pid>/environ` (measured), so that
 * combination does not count as a sandbox.
 */
export function candidateConfigs(bwrapPath: string, isRoot: boolean): BwrapConfig[] {
  const out: BwrapConfig[] = [
    { bwrapPath, procMode: 'proc', userNamespace: true },
    { bwrapPath, procMode: 'bind', userNamespace: true },
  ];
  if (isRoot) out.push({ bwrapPath, procMode: 'proc', userNamespace: false });
  return out;
}

/** Result of probing: the report `/health` shows and, when usable, the configuration to run. */
export interface IsolationProbe {
  report: IsolationReport;
  config: BwrapConfig | undefined;
}

/**
 * Finds a bubblewrap configuration that works HERE by running the real sandbox layout (slot
 * `probeSlotDir` at /workspace, data root hidden) with `true`. Configurations are tried
 * most isolated first; each failure's stderr is kept so `reason` explains what bwrap said.
 */
export async function probeIsolation(
  mode: IsolationMode,
  layout: SandboxLayout,
  probeSlotDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<IsolationProbe> {
  const started = performance.now();
  const base = { mode, shell: layout.shell, proc_mode: null, user_namespace: null } as const;
  if (mode === 'off') {
    return { config: undefined, report: { ...base, active: false, bwrap_path: null, reason: 'isolation disabled (--isolation off)', probe_ms: null } };
  }
  const bwrapPath = findOnPath('bwrap', env);
  if (!bwrapPath) {
    return { config: undefined, report: { ...base, active: false, bwrap_path: null, reason: 'bwrap not found on PATH', probe_ms: null } };
  }
  const failures: string[] = [];
  const trueBinary = findOnPath('true', env);
  for (const config of candidateConfigs(bwrapPath, process.getuid?.() === 0)) {
    const argv = bwrapArgv(config, layout, probeSlotDir, 'true', true);
    // The probe tests namespaces and mounts; exec'ing `true` itself instead of `<shell> -c true`
    // spares a shell start-up on the path every boot waits for.
    if (trueBinary) argv.splice(argv.length - 3, 3, trueBinary);
    const outcome = await runProbe(argv, 5_000, layout.dataRoot);
    const label = `${config.userNamespace ? 'userns' : 'no-userns'}+${config.procMode === 'proc' ? '--proc' : '--bind /proc'}`;
    if (outcome.ok) {
      const probeMs = Math.round((performance.now() - started) * 10) / 10;
      log(`bwrap works with ${label} (${probeMs} ms; done ${performance.now().toFixed(1)} ms after process start)`);
      return {
        config,
        report: { ...base, active: true, proc_mode: config.procMode, user_namespace: config.userNamespace, bwrap_path: bwrapPath, reason: null, probe_ms: probeMs },
      };
    }
    log(`bwrap ${label} failed: ${outcome.stderr}`);
    failures.push(`${label}: ${outcome.stderr}`);
  }
  return {
    config: undefined,
    report: {
      ...base,
      active: false,
      bwrap_path: bwrapPath,
      reason: `bwrap cannot create the sandbox here (${failures.join('; ')})`,
      probe_ms: Math.round((performance.now() - started) * 10) / 10,
    },
  };
}
