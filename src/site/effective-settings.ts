import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import type { NomadClientTls } from '../schedulers/nomad/client.js';
import type { NomadConstraint, LoadedSiteProfile } from './site-profile.js';
import type { SbatchOptions } from '../schedulers/slurm/sbatch-options.js';

/** Where an effective setting came from: `flag --x`, `environment NOMAD_X`, `profile FILE`, `default`. */
export type SettingSource = { kind: 'flag'; name: string } | { kind: 'environment'; name: string } | { kind: 'profile'; path: string } | { kind: 'default' };

/** One effective setting and where it came from. */
export interface Setting<T> {
  value: T;
  source: SettingSource;
}

/** `flag --nomad-addr`, `environment NOMAD_ADDR`, `profile /etc/site.yaml`, `default`. */
export function describeSource(source: SettingSource): string {
  switch (source.kind) {
    case 'flag':
      return `flag ${source.name}`;
    case 'environment':
      return `environment ${source.name}`;
    case 'profile':
      return `profile ${source.path}`;
    case 'default':
      return 'default';
  }
}

/** Settings given as command-line flags (the highest layer). */
export interface NomadFlags {
  address?: string;
  token?: string;
  namespace?: string;
  region?: string;
}

/** The Nomad settings a run uses, each with its source. Secrets are resolved but never printed. */
export interface NomadSettings {
  address: Setting<string>;
  token: Setting<string | undefined>;
  namespace: Setting<string | undefined>;
  region: Setting<string | undefined>;
  datacenters: Setting<string[]>;
  caFile: Setting<string | undefined>;
  certFile: Setting<string | undefined>;
  keyFile: Setting<string | undefined>;
  serverName: Setting<string | undefined>;
  skipVerify: Setting<boolean>;
  cpuMHz: Setting<number>;
  memoryMB: Setting<number>;
  constraints: Setting<NomadConstraint[]>;
  privileged: Setting<boolean>;
  driverOptions: Setting<Partial<Record<string, { binary?: string; imageDir?: string }>>>;
}

export interface SlurmSettings {
  partition: Setting<string | undefined>;
  account: Setting<string | undefined>;
  qos: Setting<string | undefined>;
  timeLimit: Setting<string | undefined>;
  constraint: Setting<string | undefined>;
  gres: Setting<string | undefined>;
  extraArgs: Setting<string[]>;
  baseDir: Setting<string | undefined>;
}

export const DEFAULT_NOMAD_ADDRESS = 'http://127.0.0.1:4646';

const TRUE_WORDS = new Set(['1', 'true', 't', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'f', 'no', 'n', 'off', '']);

/** Picks the first layer that has a value: flag, then environment, then profile, then default. */
function pick<T>(layers: Array<[T | undefined, SettingSource]>, fallback: T): Setting<T> {
  for (const [value, source] of layers) if (value !== undefined) return { value, source };
  return { value: fallback, source: { kind: 'default' } };
}

/** An environment value, with empty strings read as unset (as the Nomad CLI does). */
function envValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The effective Nomad settings: flag > environment > profile > default. The Nomad CLI's own
 * variables keep their meaning: NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION,
 * NOMAD_CACERT, NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY.
 * The profile's `tokenFile` is read here (first line).
 */
export async function resolveNomadSettings(
  options: { flags?: NomadFlags; env?: NodeJS.ProcessEnv; profile?: LoadedSiteProfile } = {},
): Promise<NomadSettings> {
  const flags = options.flags ?? {};
  const env = options.env ?? process.env;
  const nomad = options.profile?.profile.nomad ?? {};
  const fromProfile: SettingSource = { kind: 'profile', path: options.profile?.path ?? '' };
  const fromEnv = (name: string): SettingSource => ({ kind: 'environment', name });
  const fromFlag = (name: string): SettingSource => ({ kind: 'flag', name });

  let profileToken = nomad.token;
  // The token file is read only when no flag or NOMAD_TOKEN overrides it.
  if (profileToken === undefined && nomad.tokenFile && flags.token === undefined && envValue(env, 'NOMAD_TOKEN') === undefined) {
    try {
      profileToken = (await readFile(nomad.tokenFile, 'utf8')).split('\n')[0]?.trim() || undefined;
    } catch (cause) {
      throw new ConfigError(`Cannot read the Nomad token file ${nomad.tokenFile} named by ${options.profile?.path}: ${(cause as NodeJS.ErrnoException).code}`, { cause });
    }
  }
  const skipVerifyEnv = envValue(env, 'NOMAD_SKIP_VERIFY');
  let skipVerify: boolean | undefined;
  if (skipVerifyEnv !== undefined) {
    const word = skipVerifyEnv.toLowerCase();
    if (!TRUE_WORDS.has(word) && !FALSE_WORDS.has(word)) throw new ConfigError(`NOMAD_SKIP_VERIFY=${skipVerifyEnv} is not a boolean (use true or false)`);
    skipVerify = TRUE_WORDS.has(word);
  }
  return {
    address: pick(
      [
        [flags.address, fromFlag('--nomad-addr')],
        [envValue(env, 'NOMAD_ADDR'), fromEnv('NOMAD_ADDR')],
        [nomad.address, fromProfile],
      ],
      DEFAULT_NOMAD_ADDRESS,
    ),
    token: pick<string | undefined>(
      [
        [flags.token, fromFlag('--nomad-token')],
        [envValue(env, 'NOMAD_TOKEN'), fromEnv('NOMAD_TOKEN')],
        [profileToken, fromProfile],
      ],
      undefined,
    ),
    namespace: pick<string | undefined>(
      [
        [flags.namespace, fromFlag('--nomad-namespace')],
        [envValue(env, 'NOMAD_NAMESPACE'), fromEnv('NOMAD_NAMESPACE')],
        [nomad.namespace, fromProfile],
      ],
      undefined,
    ),
    region: pick<string | undefined>(
      [
        [flags.region, fromFlag('--nomad-region')],
        [envValue(env, 'NOMAD_REGION'), fromEnv('NOMAD_REGION')],
        [nomad.region, fromProfile],
      ],
      undefined,
    ),
    datacenters: pick([[nomad.datacenters, fromProfile]], ['dc1']),
    caFile: pick<string | undefined>([[envValue(env, 'NOMAD_CACERT'), fromEnv('NOMAD_CACERT')], [nomad.tls?.caFile, fromProfile]], undefined),
    certFile: pick<string | undefined>([[envValue(env, 'NOMAD_CLIENT_CERT'), fromEnv('NOMAD_CLIENT_CERT')], [nomad.tls?.certFile, fromProfile]], undefined),
    keyFile: pick<string | undefined>([[envValue(env, 'NOMAD_CLIENT_KEY'), fromEnv('NOMAD_CLIENT_KEY')], [nomad.tls?.keyFile, fromProfile]], undefined),
    serverName: pick<string | undefined>(
      [
        [envValue(env, 'NOMAD_TLS_SERVER_NAME'), fromEnv('NOMAD_TLS_SERVER_NAME')],
        [nomad.tls?.serverName, fromProfile],
      ],
      undefined,
    ),
    skipVerify: pick([[skipVerify, fromEnv('NOMAD_SKIP_VERIFY')], [nomad.tls?.skipVerify, fromProfile]], false),
    cpuMHz: pick([[nomad.resources?.cpuMHz, fromProfile]], 500),
    memoryMB: pick([[nomad.resources?.memoryMB, fromProfile]], 512),
    constraints: pick([[nomad.constraints, fromProfile]], []),
    privileged: pick([[nomad.privileged, fromProfile]], false),
    driverOptions: pick([[nomad.drivers, fromProfile]], {}),
  };
}

/** The NomadClient TLS options for `settings` (undefined when nothing TLS is set). */
export function nomadTlsFor(settings: NomadSettings): NomadClientTls | undefined {
  const tls: NomadClientTls = {
    ...(settings.caFile.value ? { caFile: settings.caFile.value } : {}),
    ...(settings.certFile.value ? { certFile: settings.certFile.value } : {}),
    ...(settings.keyFile.value ? { keyFile: settings.keyFile.value } : {}),
    ...(settings.serverName.value ? { serverName: settings.serverName.value } : {}),
    ...(settings.skipVerify.value ? { skipVerify: true } : {}),
  };
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/**
 * The effective Slurm settings: environment (`HPC_SANDBOX_SLURM_PARTITION`, `_TIME`, `_BASE_DIR`,
 * `_ACCOUNT`, `_QOS`) > profile > default (the cluster's defaults).
 */
export function resolveSlurmSettings(options: { env?: NodeJS.ProcessEnv; profile?: LoadedSiteProfile } = {}): SlurmSettings {
  const env = options.env ?? process.env;
  const slurm = options.profile?.profile.slurm ?? {};
  const fromProfile: SettingSource = { kind: 'profile', path: options.profile?.path ?? '' };
  const layered = (envName: string, profileValue: string | undefined): Setting<string | undefined> =>
    pick<string | undefined>(
      [
        [envValue(env, envName), { kind: 'environment', name: envName }],
        [profileValue, fromProfile],
      ],
      undefined,
    );
  return {
    partition: layered('HPC_SANDBOX_SLURM_PARTITION', slurm.partition),
    account: layered('HPC_SANDBOX_SLURM_ACCOUNT', slurm.account),
    qos: layered('HPC_SANDBOX_SLURM_QOS', slurm.qos),
    timeLimit: layered('HPC_SANDBOX_SLURM_TIME', slurm.timeLimit),
    constraint: pick<string | undefined>([[slurm.constraint, fromProfile]], undefined),
    gres: pick<string | undefined>([[slurm.gres, fromProfile]], undefined),
    extraArgs: pick([[slurm.extraArgs, fromProfile]], []),
    baseDir: layered('HPC_SANDBOX_SLURM_BASE_DIR', slurm.baseDir),
  };
}

/** The sbatch options for `settings`. */
export function sbatchOptionsFor(settings: SlurmSettings): SbatchOptions {
  const options: SbatchOptions = { extraArgs: settings.extraArgs.value };
  if (settings.partition.value) options.partition = settings.partition.value;
  if (settings.account.value) options.account = settings.account.value;
  if (settings.qos.value) options.qos = settings.qos.value;
  if (settings.timeLimit.value) options.timeLimit = settings.timeLimit.value;
  if (settings.constraint.value) options.constraint = settings.constraint.value;
  if (settings.gres.value) options.gres = settings.gres.value;
  return options;
}

/** Rows `[setting, shown value, source]` for doctor; the token is shown as set/unset only. */
export function settingRows(prefix: string, settings: object): Array<{ name: string; value: string; source: string }> {
  return Object.entries(settings as Record<string, Setting<unknown>>).map(([name, setting]) => ({
    name: `${prefix}.${name}`,
    value: name === 'token' ? (setting.value ? '(set, hidden)' : '(unset)') : formatValue(setting.value),
    source: describeSource(setting.source),
  }));
}

function formatValue(value: unknown): string {
  if (value === undefined) return '(unset)';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
