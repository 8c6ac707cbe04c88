import { PLACEHOLDERS, type ExposedPath, type SandboxSpec } from './driver.js';

/** Where every sandbox image (offline build, Dockerfile, Apptainer recipe) holds the server bundle. */
export const IMAGE_SERVER_PATH = '/opt/hpc-sandbox/sandbox-server.mjs';

/** The container path the host data dir is bound at. It exists in every sandbox image. */
export const IMAGE_DATA_DIR = '/data';

/** The port the server listens on inside a Docker/Podman container (mapped to a host port). */
export const CONTAINER_PORT = 8080;

/** Where the server listens and keeps its slots; values may be placeholders. */
export interface ServerLocation {
  host: string;
  port: string;
  dataDir: string;
}

/** Host-network drivers bind what the scheduler chooses; the data dir is the image's /data. */
export const HOST_NETWORK_IN_IMAGE: ServerLocation = {
  host: PLACEHOLDERS.bindHost,
  port: PLACEHOLDERS.port,
  dataDir: IMAGE_DATA_DIR,
};

/**
 * The sandbox server's own arguments (after `node <bundle>`). The token is not among them: it
 * travels in the environment (`HPC_SANDBOX_TOKEN`), out of sight of `ps`.
 */
export function serverArgs(spec: Pick<SandboxSpec, 'slots' | 'isolation' | 'env' | 'envAllowlist' | 'expose'>, where: ServerLocation, grants: 'bound-at-dest' | 'host-paths' = 'bound-at-dest'): string[] {
  const args = ['--host', where.host, '--port', where.port, '--slots', String(spec.slots), '--data-dir', where.dataDir, '--isolation', spec.isolation];
  // Commands get a clean environment: what the spec deliberately put into the sandbox crosses on.
  for (const name of [...new Set([...Object.keys(spec.env ?? {}), ...(spec.envAllowlist ?? [])])]) args.push('--pass-env', name);
  for (const grant of spec.expose ?? []) args.push('--expose', exposeArg(grant, grants));
  return args;
}

/** `--expose` of the server: in a container the driver bound the grant at its dest already; on the host it is the source. */
function exposeArg(grant: ExposedPath, grants: 'bound-at-dest' | 'host-paths'): string {
  const dest = grant.dest ?? grant.source;
  return `${grants === 'host-paths' ? grant.source : dest}:${dest}:${grant.mode ?? 'ro'}`;
}

/** The container binds of the spec's grants, at their destinations. */
export function exposeBinds(spec: Pick<SandboxSpec, 'expose'>): Array<{ source: string; target: string; readOnly: boolean }> {
  return (spec.expose ?? []).map((grant) => ({ source: grant.source, target: grant.dest ?? grant.source, readOnly: (grant.mode ?? 'ro') === 'ro' }));
}
