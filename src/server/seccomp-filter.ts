/**
 * The seccomp filter every sandboxed command runs under, built here as classic BPF (what bwrap's
 * `--seccomp FD` loads) from a table, so no libseccomp is needed in an image. It denies what no
 * coding task needs and what a sandbox escape typically starts with: mounting, namespaces, kernel
 * modules, kexec, bpf, perf, keyrings, clocks, swap, reboot, file handles that bypass the mount
 * view (open_by_handle_at, the "shocker" escape), and typing into the controlling terminal
 * (TIOCSTI). Docker's default profile and Flatpak's list are the references. Everything else is
 * allowed: the filter is a deny list, so a new syscall does not break ordinary programs.
 */

/** Architectures whose syscall numbers the table knows, by `process.arch`. */
export type SeccompArch = 'x64' | 'arm64';

/** `AUDIT_ARCH_*` values seccomp_data.arch carries. */
const AUDIT_ARCH: Record<SeccompArch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };

/** Syscalls answered with EPERM, and their numbers per architecture (absent: no such syscall there). */
export const DENIED_SYSCALLS: Readonly<Record<string, Partial<Record<SeccompArch, number>>>> = {
  mount: { x64: 165, arm64: 40 },
  umount2: { x64: 166, arm64: 39 },
  pivot_root: { x64: 155, arm64: 41 },
  open_tree: { x64: 428, arm64: 428 },
  move_mount: { x64: 429, arm64: 429 },
  fsopen: { x64: 430, arm64: 430 },
  fsconfig: { x64: 431, arm64: 431 },
  fsmount: { x64: 432, arm64: 432 },
  fspick: { x64: 433, arm64: 433 },
  mount_setattr: { x64: 442, arm64: 442 },
  unshare: { x64: 272, arm64: 97 },
  setns: { x64: 308, arm64: 268 },
  init_module: { x64: 175, arm64: 105 },
  finit_module: { x64: 313, arm64: 273 },
  delete_module: { x64: 176, arm64: 106 },
  kexec_load: { x64: 246, arm64: 104 },
  kexec_file_load: { x64: 320, arm64: 294 },
  bpf: { x64: 321, arm64: 280 },
  perf_event_open: { x64: 298, arm64: 241 },
  keyctl: { x64: 250, arm64: 219 },
  add_key: { x64: 248, arm64: 217 },
  request_key: { x64: 249, arm64: 218 },
  reboot: { x64: 169, arm64: 142 },
  swapon: { x64: 167, arm64: 224 },
  swapoff: { x64: 168, arm64: 225 },
  settimeofday: { x64: 164, arm64: 170 },
  clock_settime: { x64: 227, arm64: 112 },
  clock_adjtime: { x64: 305, arm64: 266 },
  adjtimex: { x64: 159, arm64: 171 },
  open_by_handle_at: { x64: 304, arm64: 265 },
  name_to_handle_at: { x64: 303, arm64: 264 },
  acct: { x64: 163, arm64: 89 },
  quotactl: { x64: 179, arm64: 60 },
  syslog: { x64: 103, arm64: 116 },
  lookup_dcookie: { x64: 212, arm64: 18 },
  userfaultfd: { x64: 323, arm64: 282 },
  sethostname: { x64: 170, arm64: 161 },
  setdomainname: { x64: 171, arm64: 162 },
  vhangup: { x64: 153, arm64: 58 },
  iopl: { x64: 172 },
  ioperm: { x64: 173 },
  uselib: { x64: 134 },
  _sysctl: { x64: 156 },
  create_module: { x64: 174 },
  get_kernel_syms: { x64: 177 },
  query_module: { x64: 178 },
  nfsservctl: { x64: 180 },
};

const CLONE = { x64: 56, arm64: 220 } as const;
/** clone3 passes its flags in memory the filter cannot read: ENOSYS makes libc fall back to clone. */
const CLONE3 = { x64: 435, arm64: 435 } as const;
const IOCTL = { x64: 16, arm64: 29 } as const;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: a new namespace of any kind. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
/** ioctl requests that inject input into a terminal or reach the console driver. */
export const DENIED_IOCTLS = { TIOCSTI: 0x5412, TIOCLINUX: 0x541c } as const;

const EPERM = 1;
const ENOSYS = 38;

// Classic BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
export const SECCOMP_RET = { killProcess: 0x80000000, errno: 0x00050000, allow: 0x7fff0000 } as const;

/** Offsets in struct seccomp_data: nr, arch, then six 64-bit args from 16 (low word first on these little-endian arches). */
const OFFSET = { nr: 0, arch: 4, arg0Low: 16, arg1Low: 24 } as const;
/** x32 syscalls on x86_64 carry this bit; a deny list keyed by x86_64 numbers must refuse them all. */
const X32_SYSCALL_BIT = 0x40000000;

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const stmt = (code: number, k: number): BpfInstruction => ({ code, jt: 0, jf: 0, k });
const jump = (code: number, k: number, jt: number, jf: number): BpfInstruction => ({ code, jt, jf, k });
const ret = (k: number): BpfInstruction => stmt(RET_K, k);

/** The filter as instructions: straight-line pairs (test, return), so every jump is short. */
export function seccompProgram(arch: SeccompArch): BpfInstruction[] {
  const program: BpfInstruction[] = [
    stmt(LD_W_ABS, OFFSET.arch),
    // A syscall of another ABI (i386 on x86_64, arm32 on arm64) would dodge every number below.
    jump(JEQ_K, AUDIT_ARCH[arch], 1, 0),
    ret(SECCOMP_RET.killProcess),
    stmt(LD_W_ABS, OFFSET.nr),
  ];
  if (arch === 'x64') program.push(jump(JGE_K, X32_SYSCALL_BIT, 0, 1), ret(SECCOMP_RET.errno | EPERM));
  for (const numbers of Object.values(DENIED_SYSCALLS)) {
    const nr = numbers[arch];
    if (nr !== undefined) program.push(jump(JEQ_K, nr, 0, 1), ret(SECCOMP_RET.errno | EPERM));
  }
  program.push(jump(JEQ_K, CLONE3[arch], 0, 1), ret(SECCOMP_RET.errno | ENOSYS));
  // clone(flags, ...): refused when the flags ask for a namespace; the accumulator is reloaded with
  // the syscall number afterwards so the ioctl test below still sees it.
  program.push(
    jump(JEQ_K, CLONE[arch], 0, 4),
    stmt(LD_W_ABS, OFFSET.arg0Low),
    jump(JSET_K, CLONE_NAMESPACE_FLAGS, 0, 1),
    ret(SECCOMP_RET.errno | EPERM),
    ret(SECCOMP_RET.allow),
  );
  program.push(
    jump(JEQ_K, IOCTL[arch], 0, 4),
    stmt(LD_W_ABS, OFFSET.arg1Low),
    jump(JEQ_K, DENIED_IOCTLS.TIOCSTI, 1, 0),
    jump(JEQ_K, DENIED_IOCTLS.TIOCLINUX, 0, 1),
    ret(SECCOMP_RET.errno | EPERM),
  );
  program.push(ret(SECCOMP_RET.allow));
  return program;
}

/** The filter bytes bwrap reads from `--seccomp FD`: struct sock_filter[] in host byte order. */
export function seccompFilterBytes(arch: SeccompArch): Buffer {
  const program = seccompProgram(arch);
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, i) => {
    bytes.writeUInt16LE(instruction.code, i * 8);
    bytes.writeUInt8(instruction.jt, i * 8 + 2);
    bytes.writeUInt8(instruction.jf, i * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, i * 8 + 4);
  });
  return bytes;
}

/** The table's architecture for this process, or undefined where the table has no numbers. */
export function hostSeccompArch(arch: string = process.arch): SeccompArch | undefined {
  return arch === 'x64' || arch === 'arm64' ? arch : undefined;
}
