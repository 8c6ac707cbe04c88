import { exec } from '../../common/exec.js';
import { findSifBuilder } from '../../images/sif/find-sif-builder.js';
import type { DoctorRow } from './doctor-row.js';

/**
 * Which program `image build --format sif` would use here: Apptainer's own build, siftool with
 * mksquashfs (no Apptainer needed), or none, with the reason. The same answer `image build` acts on.
 */
export async function probeSifBuilder(env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<DoctorRow> {
  const found = await findSifBuilder(env);
  const row = { area: 'image', name: 'sif builder' } as const;
  if (!found.available) return { ...row, status: 'missing', summary: `none: ${found.reason}; image build --format sif is skipped` };
  const { builder } = found;
  if (builder.kind !== 'siftool') return { ...row, status: 'ok', summary: `${builder.kind} build (${builder.path})`, details: { builder: builder.path } };
  // Debian's siftool prints `Version: unknown`; its Spec line (the SIF version it writes) is the useful part.
  const version = await exec(builder.path, ['version'], { signal, timeoutMs: 10_000 });
  const details: Record<string, string> = { builder: builder.path, mksquashfs: builder.mksquashfs };
  for (const line of version.stdout.split('\n')) {
    const m = /^(\w+):\s+(.+)$/.exec(line.trim());
    if (m) details[`siftool ${m[1]!.toLowerCase()}`] = m[2]!;
  }
  return { ...row, status: 'ok', summary: `siftool + mksquashfs (${found.why})`, details };
}
