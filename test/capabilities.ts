import { existsSync } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { exec } from '../src/common/exec.js';
import { which } from '../src/common/which.js';
import type { Detection } from '../src/drivers/driver.js';
import { getDriver } from '../src/drivers/index.js';
import { findSifBuilder } from '../src/images/sif/find-sif-builder.js';
import { SlurmScheduler } from '../src/schedulers/slurm/index.js';

/** What the machine offers the integration tests; each entry says why when it is missing. */
export type CapabilityName = 'bwrap' | 'docker' | 'charliecloud' | 'squashfs' | 'apptainer' | 'nomad' | 'slurm' | 'chromium' | 'siftool' | 'squashfuse';
export type Capability = { available: true; version?: string } | { available: false; reason: string };
export type Capabilities = Record<CapabilityName, Capability>;

async function probeBwrap(): Promise<Capability> {
  if (!(await which('bwrap'))) return { available: false, reason: 'bwrap: not on PATH (apt-get install bubblewrap)' };
  const r = await exec('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--unshare-user', '--unshare-pid', '--bind', '/proc', '/proc', 'true'], { timeoutMs: 10_000 });
  return r.exitCode === 0 ? { available: true } : { available: false, reason: `bwrap cannot create namespaces: ${r.stderr.trim()}` };
}

async function probeOnPath(bin: string, hint: string): Promise<Capability> {
  return (await which(bin)) ? { available: true } : { available: false, reason: `${bin}: not on PATH (${hint})` };
}

/** The product's own detection, so a test runs exactly where `hpc-sandbox check` would. */
function fromDetection(detection: Detection): Capability {
  return detection.available
    ? { available: true, ...(detection.version ? { version: detection.version } : {}) }
    : { available: false, reason: detection.reason ?? 'unavailable' };
}

export async function probeCapabilities(): Promise<Capabilities> {
  const [bwrap, docker, charliecloud, squashfs, apptainer, slurm] = await Promise.all([
    probeBwrap(),
    getDriver('docker').detect().then(fromDetection),
    getDriver('charliecloud').detect().then(fromDetection),
    probeOnPath('mksquashfs', 'apt-get install squashfs-tools'),
    getDriver('singularity').detect().then(fromDetection),
    new SlurmScheduler({ exitHook: false }).detect().then(fromDetection),
  ]);
  const nomad: Capability =
    process.env.NOMAD_ADDR || (await which('nomad')) ? { available: true } : { available: false, reason: 'nomad: not on PATH and NOMAD_ADDR not set' };
  // Debian's chromium renders report.html in the report tests.
  const chromium: Capability = existsSync('/usr/bin/chromium')
    ? { available: true }
    : { available: false, reason: '/usr/bin/chromium is absent (apt-get install -y chromium)' };
  // A SIF builder (apptainer, else siftool + mksquashfs), and squashfuse to look into a SIF without Apptainer.
  const sif = await findSifBuilder();
  const siftool: Capability = sif.available ? { available: true, version: sif.builder.kind } : { available: false, reason: sif.reason };
  const fuse = await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
  const squashfuse: Capability =
    fuse === 'ENOENT'
      ? { available: false, reason: '/dev/fuse: absent (modprobe fuse)' }
      : fuse
        ? { available: false, reason: `/dev/fuse: not readable and writable by this user (${fuse})` }
        : await probeOnPath('squashfuse', 'apt-get install squashfuse');
  return { bwrap, docker, charliecloud, squashfs, apptainer, nomad, slurm, chromium, siftool, squashfuse };
}
