import { copyFile, lstat, mkdir, readlink, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { CommandError, exec } from '../common/exec.js';
import { SandboxError } from '../errors.js';

/**
 * The shared libraries and dynamic loader `ldd` names for a binary, as absolute host paths.
 * Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`, `/lib64/ld-linux-x86-64.so.2 (0x...)`,
 * `linux-vdso.so.1 (0x...)` (in the kernel, nothing to copy) or `statically linked`.
 *
 * @throws SandboxError `HPCSB_IMAGE_BUILD` when a library is `not found`.
 */
export function parseLdd(binary: string, output: string): string[] {
  const paths: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line || /statically linked|not a dynamic executable/.test(line)) continue;
    const arrow = /^(\S+)\s+=>\s+(.*?)\s*(?:\(0x[0-9a-f]+\))?$/.exec(line);
    if (arrow) {
      const target = arrow[2]!;
      if (target === 'not found') {
        throw new SandboxError('HPCSB_IMAGE_BUILD', `Cannot build the sandbox image: ${binary} needs ${arrow[1]}, which ldd does not find on this host`);
      }
      if (isAbsolute(target)) paths.push(target);
      continue;
    }
    const bare = /^(\/\S+)\s+\(0x[0-9a-f]+\)$/.exec(line);
    if (bare) paths.push(bare[1]!);
  }
  return paths;
}

/** The libraries a host binary loads (see `parseLdd`); none for a static binary. */
export async function sharedLibraries(binary: string, options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const r = await exec('ldd', [binary], { signal: options.signal, timeoutMs: 20_000, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) {
    if (/not a dynamic executable/.test(r.stdout + r.stderr)) return [];
    throw new CommandError(r);
  }
  return parseLdd(binary, r.stdout);
}

/**
 * Copies the host file at `hostPath` into `root` at the same path, recreating every symbolic link
 * met on the way (`/bin -> usr/bin`, `/usr/bin/sh -> dash`, `libc.so.6 -> libc-2.36.so`), so the
 * image resolves names exactly as the host does. Already-copied paths are skipped.
 */
export async function copyHostPath(hostPath: string, root: string, seen: Set<string> = new Set()): Promise<void> {
  let pending = posix.normalize(hostPath);
  for (let hops = 0; hops < 40; hops++) {
    const step = await resolveFirstLink(pending);
    if (!step) {
      if (seen.has(pending)) return;
      seen.add(pending);
      await mkdir(dirname(join(root, pending)), { recursive: true });
      await copyFile(pending, join(root, pending));
      return;
    }
    const { link, target, rest } = step;
    if (!seen.has(link)) {
      seen.add(link);
      await mkdir(dirname(join(root, link)), { recursive: true });
      await symlink(target, join(root, link)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    pending = posix.normalize(posix.join(isAbsolute(target) ? target : posix.join(posix.dirname(link), target), rest));
  }
  throw new SandboxError('HPCSB_IMAGE_BUILD', `Cannot copy ${hostPath} into the sandbox image: more than 40 symbolic links on the way`);
}

/** The first symbolic link along `path` (component by component), with what follows it. */
async function resolveFirstLink(path: string): Promise<{ link: string; target: string; rest: string } | undefined> {
  const parts = path.split('/').filter(Boolean);
  let current = '';
  for (let i = 0; i < parts.length; i++) {
    current += `/${parts[i]}`;
    const info = await lstat(current);
    if (info.isSymbolicLink()) return { link: current, target: await readlink(current), rest: parts.slice(i + 1).join('/') };
  }
  return undefined;
}
