import { readFile } from 'node:fs/promises';
import { resolve, dirname, isAbsolute } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';

/** The profile read from the working directory when no `--profile` names one. */
export const DEFAULT_PROFILE_FILE = 'hpc-sandbox.site.yaml';

/** Environment variable carrying `--profile FILE` from the CLI into a run's environment. */
export const PROFILE_ENV = 'HPC_SANDBOX_PROFILE';

const NomadConstraintSchema = z.strictObject({
  /** `${attr.kernel.name}`, `${meta.rack}`, `${node.class}` ... */
  attribute: z.string().min(1),
  /** Nomad's operand: `=`, `!=`, `regexp`, `version`, `is_set` ... @default '=' */
  operator: z.string().min(1).default('='),
  value: z.string().default(''),
});

const NomadDriverOptionsSchema = z.strictObject({
  /** The runtime binary on the cluster's nodes (`/opt/apptainer/bin/apptainer`). */
  binary: z.string().min(1).optional(),
  /** Where this driver's images live on the cluster's shared file system. */
  imageDir: z.string().min(1).optional(),
});

const NomadProfileSchema = z.strictObject({
  address: z.url().optional(),
  /** The ACL token itself (prefer `tokenFile`: a profile is often committed). */
  token: z.string().min(1).optional(),
  /** A file holding the ACL token (first line). */
  tokenFile: z.string().min(1).optional(),
  namespace: z.string().min(1).optional(),
  region: z.string().min(1).optional(),
  datacenters: z.array(z.string().min(1)).min(1).optional(),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      certFile: z.string().min(1).optional(),
      keyFile: z.string().min(1).optional(),
      serverName: z.string().min(1).optional(),
      skipVerify: z.boolean().optional(),
    })
    .optional(),
  resources: z.strictObject({ cpuMHz: z.int().positive().optional(), memoryMB: z.int().positive().optional() }).optional(),
  constraints: z.array(NomadConstraintSchema).optional(),
  /** docker tasks run `privileged` (needs `allow_privileged` on the clients). */
  privileged: z.boolean().optional(),
  drivers: z.partialRecord(z.enum(['singularity', 'charliecloud', 'process', 'docker']), NomadDriverOptionsSchema).optional(),
});

const SlurmProfileSchema = z.strictObject({
  partition: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  qos: z.string().min(1).optional(),
  timeLimit: z.string().min(1).optional(),
  constraint: z.string().min(1).optional(),
  gres: z.string().min(1).optional(),
  extraArgs: z.array(z.string().min(1)).optional(),
  /** Job dirs on storage the compute nodes share with this host. */
  baseDir: z.string().min(1).optional(),
});

/** A site profile (`hpc-sandbox.site.yaml`): how this site's schedulers take jobs. */
export const SiteProfileSchema = z.strictObject({
  /** The schedulers `cleanup` sweeps (and the profile describes). @default the sections present */
  schedulers: z.array(z.enum(['local', 'nomad', 'slurm'])).optional(),
  nomad: NomadProfileSchema.optional(),
  slurm: SlurmProfileSchema.optional(),
  /** Image per driver (a docker tag, a SIF path, a Charliecloud dir). */
  images: z.partialRecord(z.enum(['docker', 'podman', 'singularity', 'charliecloud']), z.string().min(1)).optional(),
  /** Host paths granted to sandboxes on shared file systems (read-only unless `:rw`). */
  expose: z.array(z.string().min(1)).optional(),
});

export type SiteProfile = z.infer<typeof SiteProfileSchema>;
export type NomadProfile = z.infer<typeof NomadProfileSchema>;
export type SlurmProfile = z.infer<typeof SlurmProfileSchema>;
export type NomadConstraint = z.infer<typeof NomadConstraintSchema>;

/** A loaded profile and the file it came from (relative paths in it resolve against that file's dir). */
export interface LoadedSiteProfile {
  path: string;
  profile: SiteProfile;
}

/**
 * Reads and validates a profile. Relative file paths in it (TLS files, token file, base dir)
 * resolve against the profile's folder, so a profile travels with its certificates.
 */
export async function loadSiteProfile(path: string): Promise<LoadedSiteProfile> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (cause) {
    throw new ConfigError(`Cannot read the site profile ${absolute}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`, { cause });
  }
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (cause) {
    throw new ConfigError(`The site profile ${absolute} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  const parsed = SiteProfileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`The site profile ${absolute} is invalid:\n${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  return { path: absolute, profile: resolveRelativePaths(parsed.data, dirname(absolute)) };
}

/**
 * The profile for a run: `--profile FILE` (carried as `HPC_SANDBOX_PROFILE`), else
 * `hpc-sandbox.site.yaml` in `cwd` when it exists, else none.
 */
export async function findSiteProfile(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): Promise<LoadedSiteProfile | undefined> {
  const named = env[PROFILE_ENV];
  if (named) return loadSiteProfile(resolve(cwd, named));
  const implicit = resolve(cwd, DEFAULT_PROFILE_FILE);
  try {
    await readFile(implicit);
  } catch {
    return undefined;
  }
  return loadSiteProfile(implicit);
}

function resolveRelativePaths(profile: SiteProfile, base: string): SiteProfile {
  const at = (path: string | undefined): string | undefined => (path === undefined || isAbsolute(path) ? path : resolve(base, path));
  const nomad = profile.nomad && {
    ...profile.nomad,
    ...(profile.nomad.tokenFile ? { tokenFile: at(profile.nomad.tokenFile) } : {}),
    ...(profile.nomad.tls
      ? { tls: { ...profile.nomad.tls, caFile: at(profile.nomad.tls.caFile), certFile: at(profile.nomad.tls.certFile), keyFile: at(profile.nomad.tls.keyFile) } }
      : {}),
  };
  const slurm = profile.slurm && { ...profile.slurm, ...(profile.slurm.baseDir ? { baseDir: at(profile.slurm.baseDir) } : {}) };
  return { ...profile, ...(nomad ? { nomad } : {}), ...(slurm ? { slurm } : {}) };
}
