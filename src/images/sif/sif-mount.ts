import { spawn } from 'node:child_process';
import { access, constants, mkdtemp, readFile, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { exec, tail } from '../../common/exec.js';
import { logger } from '../../common/logger.js';
import { which } from '../../common/which.js';
import { DEFAULT_PATH } from '../../drivers/sandbox-env.js';
import { SandboxError, UnavailableError } from '../../errors.js';
import { primaryPartition, readSif, type SifDescriptor } from './sif-reader.js';

const log = logger('images:sif');

/** A SIF's primary partition mounted read-only (squashfuse); unmounted on dispose. */
export interface MountedSif extends AsyncDisposable {
  /** The mount point: the image's root filesystem, usable as a Charliecloud directory image. */
  readonly dir: string;
  readonly partition: SifDescriptor;
  /** Unmounts, waits for squashfuse to exit and removes the mount point. Idempotent. */
  unmount(): Promise<void>;
}

export interface MountSifOptions {
  /** Where the mount point directory is created. @default os.tmpdir() */
  parentDir?: string;
  /** @default 15_000 */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Where squashfuse is looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * Mounts the primary SquashFS partition of the SIF at `sif` with `squashfuse -o offset=N`, which
 * is how the image can be looked into where Apptainer is absent. squashfuse runs in the foreground
 * as this process's child, so it is never left running: `unmount()` (or dispose) stops it, which
 * unmounts, and a failed mount removes its mount point before throwing.
 *
 * @throws UnavailableError when /dev/fuse or squashfuse is missing.
 * @throws SifFormatError when the SIF has no single SquashFS primary partition.
 * @throws SandboxError `HPCSB_IMAGE_INVALID` when squashfuse cannot mount it (with its stderr).
 * @example
 * await using root = await mountSifPartition('hpc-sandbox.sif');
 * await readFile(join(root.dir, '.singularity.d/labels.json'), 'utf8');
 */
export async function mountSifPartition(sif: string, options: MountSifOptions = {}): Promise<MountedSif> {
  const component = `mounting ${sif}`;
  const fuse = await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => 'ok', (error: NodeJS.ErrnoException) => error.code ?? 'error');
  if (fuse === 'ENOENT') throw new UnavailableError(component, '/dev/fuse: absent (modprobe fuse, or run the container with --device /dev/fuse)');
  if (fuse !== 'ok') throw new UnavailableError(component, `/dev/fuse: not readable and writable by this user (${fuse}; it needs mode 0666)`);
  const env = options.env ?? process.env;
  const squashfuse = await which('squashfuse', { PATH: [env.PATH, DEFAULT_PATH].filter(Boolean).join(':') });
  if (!squashfuse) throw new UnavailableError(component, 'squashfuse: not on PATH (apt-get install squashfuse)');
  const partition = primaryPartition(await readSif(sif), sif);
  if (partition.partition.fs !== 'Squashfs') throw new SandboxError('HPCSB_IMAGE_INVALID', `${sif}: the primary partition is ${partition.partition.fs}, not SquashFS`);

  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), 'hpcsb-sif-'));
  log('squashfuse -f -o offset=%d %s %s', partition.offset, sif, dir);
  const child = spawn(squashfuse, ['-f', '-o', `ro,offset=${partition.offset}`, sif, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', (error) => {
      stderr += String(error);
      resolve(null);
    });
  });
  let done = false;
  const unmount = async () => {
    if (done) return;
    done = true;
    // libfuse unmounts on SIGTERM; umount is the fallback should squashfuse not answer.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!stopped) {
      child.kill('SIGKILL');
      await exited;
    }
    if (await isMountPoint(dir)) await exec('umount', ['-l', dir], { timeoutMs: 10_000 });
    await rmdir(dir).catch((error: unknown) => log('cannot remove mount point %s: %O', dir, error));
  };

  try {
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    for (;;) {
      if (await isMountPoint(dir)) break;
      if (child.exitCode !== null || child.signalCode !== null) {
        await exited;
        throw new SandboxError('HPCSB_IMAGE_INVALID', `squashfuse could not mount the partition of ${sif} at offset ${partition.offset} (exit ${child.exitCode ?? child.signalCode}): ${tail(stderr, 10) || 'no output'}`);
      }
      if (Date.now() > deadline) throw new SandboxError('HPCSB_IMAGE_INVALID', `squashfuse did not mount ${sif} within ${options.timeoutMs ?? 15_000} ms: ${tail(stderr, 10) || 'no output'}`);
      options.signal?.throwIfAborted();
      await sleep(50);
    }
  } catch (error) {
    await unmount();
    throw error;
  }
  return { dir, partition, unmount, [Symbol.asyncDispose]: unmount };
}

/** True when `dir` is a mount point of this process's mount namespace (/proc/self/mountinfo, field 5). */
export async function isMountPoint(dir: string): Promise<boolean> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return table.split('\n').some((line) => line.split(' ')[4] === escaped);
}
