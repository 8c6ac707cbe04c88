import type { SifDescriptor, SifImage } from './sif-reader.js';

/** One object of a SIF as the golden test pins it: what it is and where it belongs, not where its bytes sit. */
export interface SifObjectSummary {
  id: number;
  datatype: string;
  group: number | null;
  link: string | null;
  partition: string | null;
}

/**
 * The descriptor list without what depends on content (offsets, sizes, times, the image id):
 * `Partition Squashfs/PrimSys/amd64` in group 1, and so on, in table order.
 */
export function summariseSifObjects(image: SifImage): SifObjectSummary[] {
  return image.descriptors.map((d: SifDescriptor) => ({
    id: d.id,
    datatype: d.datatype,
    group: d.group ?? null,
    link: d.link ? `${d.link.isGroup ? 'group ' : ''}${d.link.id}` : null,
    partition: d.partition ? `${d.partition.fs}/${d.partition.type}/${d.partition.arch}` : null,
  }));
}

/** One row of `siftool list`: `1    |1       |NONE    |32176-32234               |Def.FILE`. */
export interface SiftoolListRow {
  id: number;
  group: number | null;
  link: string | null;
  start: number;
  end: number;
  type: string;
}

/** Parses `siftool list` output (the table rows; header and rule lines are skipped). */
export function parseSiftoolList(output: string): SiftoolListRow[] {
  const rows: SiftoolListRow[] = [];
  for (const line of output.split('\n')) {
    const m = /^(\d+)\s*\|(\S+)\s*\|(\S+)\s*\|(\d+)-(\d+)\s*\|(.+?)\s*$/.exec(line);
    if (!m) continue;
    rows.push({
      id: Number(m[1]),
      group: m[2] === 'NONE' ? null : Number(m[2]),
      link: m[3] === 'NONE' ? null : m[3]!,
      start: Number(m[4]),
      end: Number(m[5]),
      type: m[6]!,
    });
  }
  return rows;
}

/** How `siftool list` names a descriptor's type: `Def.FILE`, `FS (Squashfs/*System/amd64)`. */
export function siftoolTypeName(d: SifDescriptor): string {
  const names: Record<string, string> = { Deffile: 'Def.FILE', EnvVar: 'Env.Vars', Labels: 'JSON.Labels', Signature: 'Signature', GenericJSON: 'JSON.Generic', Generic: 'Generic/Raw' };
  if (d.partition) return `FS (${d.partition.fs}/${d.partition.type === 'PrimSys' ? '*System' : d.partition.type}/${d.partition.arch})`;
  return names[d.datatype] ?? d.datatype;
}
