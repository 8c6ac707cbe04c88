import { open } from 'node:fs/promises';
import { SandboxError } from '../../errors.js';

/**
 * A reader for the parts of a SIF file (Singularity Image Format, spec version 01) that tell
 * whether Apptainer can run it: the global header and the object descriptors. Layout, from the
 * reference implementation (github.com/apptainer/sif, pkg/sif), all integers little-endian with no
 * padding between fields:
 *
 * header (128 bytes): launch[32] magic[10] version[3] arch[3] id[16] ctime i64 mtime i64
 *   dfree i64 dtotal i64 descroff i64 descrlen i64 dataoff i64 datalen i64
 * descriptor (585 bytes, `dtotal` of them from `descroff`, unused ones have used=0):
 *   datatype i32, used u8, id u32, groupid u32, link u32, offset i64, size i64,
 *   sizeWithPadding i64, ctime i64, mtime i64, uid i64, gid i64, name[128], extra[384]
 * partition extra: fstype i32, parttype i32, arch[3]
 * Group ids and group links carry the mask 0xf0000000.
 */
export const SIF_MAGIC = 'SIF_MAGIC';
export const SIF_HEADER_SIZE = 128;
export const SIF_DESCRIPTOR_SIZE = 585;
const GROUP_MASK = 0xf0000000;

/** Data object types (`Datatype` in pkg/sif). */
export const SIF_DATATYPES: Record<number, string> = {
  0x4001: 'Deffile',
  0x4002: 'EnvVar',
  0x4003: 'Labels',
  0x4004: 'Partition',
  0x4005: 'Signature',
  0x4006: 'GenericJSON',
  0x4007: 'Generic',
  0x4008: 'CryptoMessage',
  0x4009: 'SBOM',
  0x400a: 'OCIRootIndex',
  0x400b: 'OCIBlob',
};
export const SIF_FS_TYPES: Record<number, string> = { 1: 'Squashfs', 2: 'Ext3', 3: 'ImmuObj', 4: 'Raw', 5: 'EncryptedSquashfs' };
export const SIF_PART_TYPES: Record<number, string> = { 1: 'System', 2: 'PrimSys', 3: 'Data', 4: 'Overlay' };
/** SIF architecture codes ("02") -> Go names, as `siftool list` prints them. */
export const SIF_ARCHES: Record<string, string> = {
  '00': 'unknown', '01': '386', '02': 'amd64', '03': 'arm', '04': 'arm64', '05': 'ppc64', '06': 'ppc64le',
  '07': 'mips', '08': 'mipsle', '09': 'mips64', '10': 'mips64le', '11': 's390x', '12': 'riscv64',
};

export interface SifHeader {
  launchScript: string;
  magic: string;
  version: string;
  /** Go name of the primary partition's architecture (`amd64`). */
  arch: string;
  id: string;
  createdAt: number;
  modifiedAt: number;
  descriptorsFree: number;
  descriptorsTotal: number;
  descriptorsOffset: number;
  descriptorsSize: number;
  dataOffset: number;
  dataSize: number;
}

export interface SifPartition {
  /** `Squashfs`, `Ext3`... */
  fs: string;
  /** `PrimSys` (the primary system partition Apptainer runs), `System`, `Data`, `Overlay`. */
  type: string;
  arch: string;
}

export interface SifDescriptor {
  /** `Deffile`, `Partition`... (`Unknown(0x...)` otherwise). */
  datatype: string;
  id: number;
  /** Object group (Apptainer's builds use 1); undefined when the object is in none. */
  group: number | undefined;
  /** The object or group this one is linked to (signatures link to what they sign). */
  link: { id: number; isGroup: boolean } | undefined;
  offset: number;
  size: number;
  name: string;
  partition?: SifPartition;
}

export interface SifImage {
  header: SifHeader;
  /** The used descriptors, in the order of the descriptor table. */
  descriptors: SifDescriptor[];
}

/** A file is not a SIF, or a SIF whose header or descriptors do not hold together. */
export class SifFormatError extends SandboxError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('HPCSB_IMAGE_INVALID', `${path} is not a usable SIF image: ${reason}`);
  }
}

/**
 * Reads the header and descriptors of the SIF at `path` (never the data objects).
 *
 * @throws SifFormatError when the magic, version, offsets or sizes are wrong.
 * @example
 * const { descriptors } = await readSif('hpc-sandbox.sif');
 * const root = primaryPartition(descriptors);
 */
export async function readSif(path: string): Promise<SifImage> {
  const handle = await open(path, 'r');
  try {
    const { size: fileSize } = await handle.stat();
    const headerBytes = Buffer.alloc(SIF_HEADER_SIZE);
    const { bytesRead } = await handle.read(headerBytes, 0, SIF_HEADER_SIZE, 0);
    if (bytesRead < SIF_HEADER_SIZE) throw new SifFormatError(path, `${fileSize} bytes, shorter than the ${SIF_HEADER_SIZE}-byte global header`);
    const header = parseSifHeader(headerBytes, path);
    const tableSize = header.descriptorsTotal * SIF_DESCRIPTOR_SIZE;
    if (header.descriptorsOffset + tableSize > fileSize) {
      throw new SifFormatError(path, `the descriptor table (${header.descriptorsTotal} x ${SIF_DESCRIPTOR_SIZE} bytes at ${header.descriptorsOffset}) runs past the end of the file (${fileSize} bytes)`);
    }
    const table = Buffer.alloc(tableSize);
    await handle.read(table, 0, tableSize, header.descriptorsOffset);
    const descriptors = parseSifDescriptors(table, header.descriptorsTotal, path);
    for (const d of descriptors) {
      if (d.offset + d.size > fileSize) throw new SifFormatError(path, `object ${d.id} (${d.datatype}, ${d.size} bytes at ${d.offset}) runs past the end of the file (${fileSize} bytes)`);
    }
    return { header, descriptors };
  } finally {
    await handle.close();
  }
}

/** The 128-byte global header. */
export function parseSifHeader(bytes: Buffer, path = '<buffer>'): SifHeader {
  const magic = cString(bytes, 32, 10);
  if (magic !== SIF_MAGIC) throw new SifFormatError(path, `no ${SIF_MAGIC} at byte 32 (found ${JSON.stringify(bytes.subarray(32, 42).toString('latin1'))})`);
  const version = cString(bytes, 42, 3);
  if (version !== '01') throw new SifFormatError(path, `SIF version ${JSON.stringify(version)}, this reader knows 01`);
  const archCode = cString(bytes, 45, 3);
  const hex = bytes.subarray(48, 64).toString('hex');
  return {
    launchScript: cString(bytes, 0, 32),
    magic,
    version,
    arch: SIF_ARCHES[archCode] ?? `unknown(${archCode})`,
    id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`,
    createdAt: int64(bytes, 64),
    modifiedAt: int64(bytes, 72),
    descriptorsFree: int64(bytes, 80),
    descriptorsTotal: int64(bytes, 88),
    descriptorsOffset: int64(bytes, 96),
    descriptorsSize: int64(bytes, 104),
    dataOffset: int64(bytes, 112),
    dataSize: int64(bytes, 120),
  };
}

/** The used descriptors of a descriptor table of `total` entries. */
export function parseSifDescriptors(table: Buffer, total: number, path = '<buffer>'): SifDescriptor[] {
  const out: SifDescriptor[] = [];
  for (let i = 0; i < total; i++) {
    const at = i * SIF_DESCRIPTOR_SIZE;
    if (table[at + 4] === 0) continue;
    const type = table.readInt32LE(at);
    const groupRaw = table.readUInt32LE(at + 9);
    const linkRaw = table.readUInt32LE(at + 13);
    const descriptor: SifDescriptor = {
      datatype: SIF_DATATYPES[type] ?? `Unknown(0x${type.toString(16)})`,
      id: table.readUInt32LE(at + 5),
      group: groupRaw === GROUP_MASK || groupRaw === 0 ? undefined : (groupRaw & ~GROUP_MASK) >>> 0,
      link: linkRaw === 0 ? undefined : { id: (linkRaw & ~GROUP_MASK) >>> 0, isGroup: (linkRaw & GROUP_MASK) >>> 0 === GROUP_MASK },
      offset: int64(table, at + 17),
      size: int64(table, at + 25),
      name: cString(table, at + 73, 128),
    };
    if (descriptor.offset < 0 || descriptor.size < 0) throw new SifFormatError(path, `object ${descriptor.id} has a negative offset or size`);
    if (type === 0x4004) {
      const extra = at + 201;
      const fs = table.readInt32LE(extra);
      const part = table.readInt32LE(extra + 4);
      const arch = cString(table, extra + 8, 3);
      descriptor.partition = { fs: SIF_FS_TYPES[fs] ?? `Unknown(${fs})`, type: SIF_PART_TYPES[part] ?? `Unknown(${part})`, arch: SIF_ARCHES[arch] ?? `unknown(${arch})` };
    }
    out.push(descriptor);
  }
  return out;
}

/**
 * The primary system partition: the root filesystem Apptainer mounts.
 *
 * @throws SifFormatError when there is none, or more than one.
 */
export function primaryPartition(image: SifImage, path = '<image>'): SifDescriptor & { partition: SifPartition } {
  const primary = image.descriptors.filter((d): d is SifDescriptor & { partition: SifPartition } => d.partition?.type === 'PrimSys');
  if (primary.length !== 1) throw new SifFormatError(path, `${primary.length} primary system partitions (Apptainer needs exactly one)`);
  return primary[0]!;
}

function cString(bytes: Buffer, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('latin1');
}

/** An int64 field as a number (SIF offsets and sizes stay far below 2^53). */
function int64(bytes: Buffer, at: number): number {
  return Number(bytes.readBigInt64LE(at));
}
