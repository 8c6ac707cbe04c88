import { existsSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { exec } from '../src/common/exec.js';
import { which } from '../src/common/which.js';

/** What the machine offers the integration tests; each entry says why when it is missing. */
export type CapabilityName = 'bwrap' | 'docker' | 'charliecloud' | 'squashfs' | 'apptainer' | 'nomad' | 'slurm' | 'chromium';
export type Capability = { available: true; version?: string } | { available: false; reason: string };
export type Capabilities = Record<CapabilityName, Capability>;

async function probeBwrap(): Promise<Capability> {
  if (!(await which('bwrap'))) return { available: false, reason: 'bwrap: not on PATH (apt-get install bubblewrap)' };
  const r = await exec('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-user', '--unshare-pid', '--bind', '/proc', '/proc', 'true'], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? { available: true } : { available: false, reason: `bwrap cannot create namespaces: ${r.stderr.trim()}` };
}

async function probeDocker(): Promise<Capability> {
  const socket = process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';
  try {
    await access(socket, constants.W_OK);
  } catch {
    return { available: false, reason: `docker: cannot connect to ${socket} (is dockerd running?)` };
  }
  const r = await exec('docker', ['version', '--format', '{{.Server.Version}}'], { timeoutMs: 15_000 });
  return r.exitCode === 0 ? { available: true, version: r.stdout.trim() } : { available: false, reason: `docker: ${r.stderr.trim()}` };
}

async function probeOnPath(bin: string, hint: string): Promise<Capability> {
  return (await which(bin)) ? { available: true } : { available: false, reason: `${bin}: not on PATH (${hint})` };
}

async function probeSlurm(): Promise<Capability> {
  if (!(await which('sinfo'))) return { available: false, reason: 'sinfo: not on PATH (apt-get install slurm-wlm)' };
  const r = await exec('sinfo', ['-h', '-o', '%T'], { timeoutMs: 10_000 });
  return r.exitCode === 0 && /idle|mix|alloc/.test(r.stdout)
    ? { available: true }
    : { available: false, reason: `slurm: no usable node (${(r.stderr || r.stdout).trim() || 'sinfo printed nothing'})` };
}

export async function probeCapabilities(): Promise<Capabilities> {
  const [bwrap, docker, charliecloud, squashfs, apptainer, slurm] = await Promise.all([
    probeBwrap(),
    probeDocker(),
    probeOnPath('ch-run', 'apt-get install charliecloud-runtime'),
    probeOnPath('mksquashfs', 'apt-get install squashfs-tools'),
    (async () => (await which('apptainer')) || (await which('singularity')) ? ({ available: true } as Capability) : ({ available: false, reason: 'apptainer: not on PATH (nor singularity)' } as Capability))(),
    probeSlurm(),
  ]);
  const nomad: Capability =
    process.env.NOMAD_ADDR || (await which('nomad')) ? { available: true } : { available: false, reason: 'nomad: not on PATH and NOMAD_ADDR not set' };
  // Debian's chromium renders report.html in the report tests.
  const chromium: Capability = existsSync('/usr/bin/chromium')
    ? { available: true }
    : { available: false, reason: '/usr/bin/chromium is absent (apt-get install -y chromium)' };
  return { bwrap, docker, charliecloud, squashfs, apptainer, nomad, slurm, chromium };
}
