import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { which } from '../common/which.js';
import { SandboxError } from '../errors.js';
import { DEFAULT_PATH } from '../drivers/sandbox-env.js';
import { sharedLibraries } from './host-files.js';
import { sifDefinition, SINGULARITY_LINKS, singularityFiles } from './singularity-layout.js';

/** Bump when the layout of the built images changes, so every cache entry is rebuilt. */
export const IMAGE_LAYOUT_VERSION = 2;

/** Programs without which the image is useless: the server runs on node and spawns sh. */
export const REQUIRED_PROGRAMS = ['sh'] as const;

/**
 * Programs copied when the host has them: bash (the server prefers it), bwrap (slot isolation),
 * pasta (passt's binaries: the slots' own network), tmux (the server's stateful terminal sessions) and a few basic tools that bash checks and agents
 * reach for.
 */
export const OPTIONAL_PROGRAMS = [
  'bash', 'bwrap', 'tmux', 'pasta', 'passt', 'passt.avx2', 'ip',
  'ls', 'cat', 'mkdir', 'rm', 'env', 'cp', 'mv', 'touch', 'ln', 'chmod', 'readlink', 'pwd', 'echo', 'printf',
  'true', 'false', 'sleep', 'id', 'uname', 'basename', 'dirname', 'head', 'tail', 'wc', 'sort', 'tr', 'cut',
  'tee', 'grep', 'sed', 'find', 'xargs', 'timeout', 'kill',
] as const;

/** Paths scripts name literally (`#!/bin/sh`, `#!/usr/bin/env bash`): copied at that very path when the host has them. */
export const WELL_KNOWN_PATHS = ['/bin/sh', '/bin/bash', '/usr/bin/env'] as const;

/**
 * Terminal descriptions copied when the host has them (first hit in `TERMINFO_DIRS`): tmux refuses
 * to start without an entry for its client's TERM, and programs in its panes look up `screen` or
 * `tmux-256color`, tmux's `default-terminal`.
 */
export const TERMINFO_ENTRIES = [
  'd/dumb', 'l/linux', 's/screen', 's/screen-256color', 't/tmux', 't/tmux-256color', 'v/vt100', 'x/xterm', 'x/xterm-256color',
] as const;

/** Where ncurses looks for terminal descriptions, in its order (Debian: /etc, /lib, /usr/share). */
export const TERMINFO_DIRS = ['/etc/terminfo', '/lib/terminfo', '/usr/share/terminfo'] as const;

/**
 * The compiled C.UTF-8 locale (`LANG=C.UTF-8` is what every driver sets): tmux refuses to start
 * without a UTF-8 LC_CTYPE ("invalid LC_ALL, LC_CTYPE or LANG"), and bash and node read it too.
 */
export const LOCALE_DIRS = ['/usr/lib/locale/C.utf8'] as const;

/** Where the node binary goes in the image, wherever it lives on the host. */
export const IMAGE_NODE_PATH = '/usr/bin/node';

/** Small files written into the image (not copied from the host). */
export const GENERATED_FILES: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  '/etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
  '/etc/hosts': '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n',
  '/etc/resolv.conf': '',
};

/** Empty directories of the image with their modes (mount points, data dir, scratch). */
export const IMAGE_DIRECTORIES: Record<string, number> = {
  '/data': 0o755,
  '/tmp': 0o1777,
  '/var/tmp': 0o1777,
  '/dev': 0o755,
  '/proc': 0o555,
  '/sys': 0o555,
  '/run': 0o755,
  '/workspace': 0o755,
  '/mnt': 0o755,
  '/home': 0o755,
  '/root': 0o700,
};

// ldd runs the loader on each binary (~30 ms apiece): remember its answer while the binary is unchanged.
const librariesMemo = new Map<string, Promise<string[]>>();

async function librariesOf(binary: string, signal?: AbortSignal): Promise<string[]> {
  const info = await stat(binary);
  const key = `${binary}\0${info.size}\0${info.mtimeMs}`;
  let libraries = librariesMemo.get(key);
  if (!libraries) {
    libraries = sharedLibraries(binary, { signal });
    librariesMemo.set(key, libraries);
    libraries.catch(() => librariesMemo.delete(key));
  }
  return libraries;
}

/** Everything an image is made of, and the content hash that names it. */
export interface ImageInputs {
  /** First 16 hex digits of the SHA-256 over every input: the cache key and the Docker tag. */
  hash: string;
  bundlePath: string;
  /** The host node binary (real path), copied to /usr/bin/node. */
  nodePath: string;
  /** Host programs copied at their host path, by name. */
  programs: Record<string, string>;
  /** Optional programs this host lacks. */
  missing: string[];
  /** The `WELL_KNOWN_PATHS` this host has. */
  wellKnownPaths: string[];
  /** Every host library the programs need (and the dynamic loader). */
  libraries: string[];
  /** Host data files copied at their host path (the `TERMINFO_ENTRIES` and `LOCALE_DIRS` files found). */
  dataFiles: string[];
}

export interface CollectOptions {
  bundlePath: string;
  /** The node binary to copy. @default process.execPath */
  nodePath?: string;
  /** Where programs are looked up. @default process.env */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/**
 * Finds the host files the image is built from and hashes them: the bundle by content, host
 * binaries and libraries by path, size and modification time (hashing ~100 MB of node on every
 * call would cost more than the build it saves), plus the generated files and the layout version.
 */
export async function collectImageInputs(options: CollectOptions): Promise<ImageInputs> {
  const bundle = await readFile(options.bundlePath).catch((error: unknown) => {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new SandboxError('HPCSB_IMAGE_BUILD', `Cannot build the sandbox image: cannot read the server bundle ${options.bundlePath} (${why}; npm run build makes it)`, {
      cause: error,
    });
  });
  const searchEnv = { PATH: [options.env?.PATH ?? process.env.PATH, DEFAULT_PATH].filter(Boolean).join(':') };
  const nodePath = await realpath(options.nodePath ?? process.execPath);
  const programs: Record<string, string> = {};
  const missing: string[] = [];
  for (const name of [...REQUIRED_PROGRAMS, ...OPTIONAL_PROGRAMS]) {
    const found = await which(name, searchEnv);
    if (found) programs[name] = found;
    else if ((REQUIRED_PROGRAMS as readonly string[]).includes(name)) {
      throw new SandboxError('HPCSB_IMAGE_BUILD', `Cannot build the sandbox image: \`${name}\` is not on PATH (${searchEnv.PATH})`);
    } else missing.push(name);
  }
  const wellKnownPaths: string[] = [];
  for (const path of WELL_KNOWN_PATHS) if (await which(path)) wellKnownPaths.push(path);
  const dataFiles = [...(await findTerminfoEntries()), ...(await filesUnder(LOCALE_DIRS))];
  const binaries = [nodePath, ...Object.values(programs)];
  const libraryLists: string[][] = [];
  // A few ldd at a time: dozens at once only compete for the same two cores.
  for (let i = 0; i < binaries.length; i += 6) {
    libraryLists.push(...(await Promise.all(binaries.slice(i, i + 6).map((b) => librariesOf(b, options.signal)))));
  }
  const libraries = [...new Set(libraryLists.flat())].sort();

  const hash = createHash('sha256');
  // The Apptainer layout's static part (its hash-dependent labels and definition follow from the hash).
  const singularity = { files: singularityFiles('', sifDefinition('')), links: SINGULARITY_LINKS };
  hash.update(JSON.stringify({ layout: IMAGE_LAYOUT_VERSION, GENERATED_FILES, IMAGE_DIRECTORIES, programs, missing, wellKnownPaths, singularity }));
  hash.update(bundle);
  for (const file of [...binaries, ...libraries, ...dataFiles]) {
    const info = await stat(file);
    hash.update(`${file}\0${await realpath(file)}\0${info.size}\0${info.mtimeMs}\n`);
  }
  return { hash: hash.digest('hex').slice(0, 16), bundlePath: options.bundlePath, nodePath, programs, missing, wellKnownPaths, libraries, dataFiles };
}

/** Every regular file below `dirs` (those that exist), sorted. */
async function filesUnder(dirs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const dir of dirs) {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isFile()) files.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return files.sort();
}

/** The host path of each `TERMINFO_ENTRIES` entry, from the first of `TERMINFO_DIRS` that has it. */
async function findTerminfoEntries(): Promise<string[]> {
  const found: string[] = [];
  for (const entry of TERMINFO_ENTRIES) {
    for (const dir of TERMINFO_DIRS) {
      const path = `${dir}/${entry}`;
      if (await stat(path).then((s) => s.isFile(), () => false)) {
        found.push(path);
        break;
      }
    }
  }
  return found;
}
