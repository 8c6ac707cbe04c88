import { access, chmod, constants, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../../common/exec.js';
import { which } from '../../common/which.js';
import { slotId } from '../../protocol/slot-id.js';
import { buildSandboxLayout } from '../../server/boot.js';
import { probeIsolation } from '../../server/isolation.js';
import { chownTree, DEFAULT_UID_BASE, slotUser } from '../../server/slot-user.js';
import type { DoctorRow } from './doctor-row.js';

/** Probes never take long: a hung tool must not hang `doctor`. */
const PROBE_TIMEOUT_MS = 10_000;

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Unprivileged user namespaces (hpc-runtimes 5.1): `max_user_namespaces` must be above 0, the
 * Debian/Ubuntu knobs must not forbid them, and `unshare -U true` must work as this user.
 */
export async function probeUserNamespaces(): Promise<DoctorRow> {
  const max = await readTrimmed('/proc/sys/user/max_user_namespaces');
  const clone = await readTrimmed('/proc/sys/kernel/unprivileged_userns_clone');
  const apparmor = await readTrimmed('/proc/sys/kernel/apparmor_restrict_unprivileged_userns');
  const details: Record<string, string> = { max_user_namespaces: max ?? 'absent' };
  if (clone !== undefined) details.unprivileged_userns_clone = clone;
  if (apparmor !== undefined) details.apparmor_restrict_unprivileged_userns = apparmor;
  const unshare = (await which('unshare')) ? await exec('unshare', ['-U', 'true'], { timeoutMs: PROBE_TIMEOUT_MS }) : undefined;
  details['unshare -U true'] = unshare === undefined ? 'unshare not on PATH' : unshare.exitCode === 0 ? 'ok' : unshare.stderr.trim() || `exit ${unshare.exitCode}`;
  const blocked =
    max === '0' ? 'max_user_namespaces is 0' : clone === '0' ? 'kernel.unprivileged_userns_clone is 0' : apparmor === '1' ? 'AppArmor restricts unprivileged user namespaces' : undefined;
  if (unshare?.exitCode === 0) {
    return { area: 'kernel', name: 'user namespaces', status: blocked ? 'warn' : 'ok', summary: `unshare -U ok; max ${max ?? '?'}${blocked ? ` (${blocked})` : ''}`, details };
  }
  return {
    area: 'kernel',
    name: 'user namespaces',
    status: 'missing',
    summary: blocked ?? `unshare -U failed: ${details['unshare -U true']}`,
    details,
  };
}

/** `/dev/fuse` must exist and be 0666 for squashfuse, fuse-overlayfs and ch-run on SquashFS as a user. */
export async function probeDevFuse(): Promise<DoctorRow> {
  try {
    const info = await stat('/dev/fuse');
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    const details = { mode, owner: `${info.uid}:${info.gid}` };
    return (info.mode & 0o666) === 0o666
      ? { area: 'kernel', name: '/dev/fuse', status: 'ok', summary: `mode ${mode}`, details }
      : { area: 'kernel', name: '/dev/fuse', status: 'warn', summary: `mode ${mode}: unprivileged SquashFS/FUSE mounts fail (need 0666)`, details };
  } catch (error) {
    return { area: 'kernel', name: '/dev/fuse', status: 'missing', summary: `absent: ${(error as NodeJS.ErrnoException).code ?? String(error)} (modprobe fuse)` };
  }
}

/** Kernel release and the filesystems images need (squashfs, overlay, fuse). */
export async function probeKernel(): Promise<DoctorRow> {
  const filesystems = (await readTrimmed('/proc/filesystems')) ?? '';
  const have = (fs: string) => new RegExp(`\\b${fs}\\b`).test(filesystems);
  const missing = ['squashfs', 'overlay', 'fuse'].filter((fs) => !have(fs));
  return {
    area: 'kernel',
    name: 'kernel',
    status: missing.length === 0 ? 'ok' : 'warn',
    summary: `${release()}` + (missing.length ? `; not in /proc/filesystems: ${missing.join(', ')} (modprobe them)` : '; squashfs, overlay, fuse present'),
  };
}

/**
 * Can bubblewrap build a slot sandbox here, and how /proc gets in: `--proc /proc` (a fresh procfs,
 * best) or only `--bind /proc /proc` (the host's, as inside Docker). Probed with the sandbox
 * server's own probe on a throw-away data dir, so the answer is what a server started here does.
 */
export async function probeBwrap(env: NodeJS.ProcessEnv = process.env): Promise<DoctorRow> {
  const bwrap = await which('bwrap', env);
  if (!bwrap) return { area: 'isolation', name: 'bwrap', status: 'missing', summary: 'bwrap: not on PATH (apt-get install bubblewrap); slots run unisolated' };
  const version = (await exec(bwrap, ['--version'], { timeoutMs: PROBE_TIMEOUT_MS })).stdout.trim() || 'bwrap';
  const dataRoot = await mkdtemp(join(tmpdir(), 'hpc-sandbox-doctor-'));
  try {
    const slotDir = join(dataRoot, slotId(0));
    await mkdir(slotDir);
    // As a server started here would: slot 0's unprivileged uid (root only) must reach its slot.
    await chmod(dataRoot, 0o711);
    const user = slotUser(0, DEFAULT_UID_BASE);
    if (user) chownTree(slotDir, user);
    const layout = buildSandboxLayout({ dataRoot, env });
    const { report } = await probeIsolation('auto', layout, slotDir, env, user);
    const details: Record<string, string> = { path: bwrap, version };
    if (report.probe_ms !== null) details.probe_ms = String(report.probe_ms);
    if (!report.active) return { area: 'isolation', name: 'bwrap', status: 'missing', summary: `${version}: ${report.reason ?? 'unusable'}; slots run unisolated`, details };
    const how = `userns + ${report.proc_mode === 'proc' ? '--proc /proc' : '--bind /proc'}`;
    const network = report.network.open === 'stack' ? 'own network namespace behind pasta' : `shared host network (${report.network.reason})`;
    details.network = network;
    if (report.uid !== null) details.uid = String(report.uid);
    const weaker = report.proc_mode === 'bind' || report.network.open !== 'stack';
    const summary = `${version}; proc mode: ${how}${report.proc_mode === 'bind' ? ' (host /proc visible)' : ''}; seccomp ${report.seccomp ? 'on' : 'off'}; network: ${network}`;
    return { area: 'isolation', name: 'bwrap', status: weaker ? 'warn' : 'ok', summary, details };
  } finally {
    await rm(dataRoot, { recursive: true, force: true });
  }
}

/** The Docker Engine socket (`DOCKER_HOST` or /var/run/docker.sock) and whether this user may write it. */
export async function probeDockerSocket(env: NodeJS.ProcessEnv = process.env): Promise<DoctorRow> {
  const host = env.DOCKER_HOST;
  if (host && !host.startsWith('unix://')) return { area: 'engine', name: 'docker socket', status: 'ok', summary: `DOCKER_HOST=${host} (not probed: not a unix socket)` };
  const socket = host?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';
  try {
    await access(socket, constants.W_OK);
    return { area: 'engine', name: 'docker socket', status: 'ok', summary: `${socket} writable` };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'absent (is dockerd running?)' : code === 'EACCES' ? 'not writable by this user (docker group?)' : String(code);
    return { area: 'engine', name: 'docker socket', status: 'missing', summary: `${socket}: ${why}` };
  }
}
