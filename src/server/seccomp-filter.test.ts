import { describe, expect, it } from 'vitest';
import { CLONE_NAMESPACE_FLAGS, DENIED_IOCTLS, DENIED_SYSCALLS, SECCOMP_RET, seccompFilterBytes, seccompProgram, type BpfInstruction, type SeccompArch } from './seccomp-filter.js';

const ARCH = { x64: 0xc000003e, arm64: 0xc00000b7, i386: 0x40000003 } as const;
const EPERM = SECCOMP_RET.errno | 1;
const ENOSYS = SECCOMP_RET.errno | 38;

/** A classic-BPF interpreter for the instructions the builder emits: what the kernel would answer. */
function evaluate(program: BpfInstruction[], data: { nr: number; arch: number; args?: number[] }): number {
  const word = (offset: number): number => {
    if (offset === 0) return data.nr;
    if (offset === 4) return data.arch;
    const arg = (offset - 16) / 8;
    if (!Number.isInteger(arg)) throw new Error(`unexpected load at ${offset}`);
    return (data.args?.[arg] ?? 0) >>> 0;
  };
  let acc = 0;
  for (let pc = 0; pc < program.length; ) {
    const { code, jt, jf, k } = program[pc]!;
    switch (code) {
      case 0x20:
        acc = word(k);
        pc++;
        break;
      case 0x15:
        pc += 1 + (acc === k >>> 0 ? jt : jf);
        break;
      case 0x35:
        pc += 1 + (acc >= k >>> 0 ? jt : jf);
        break;
      case 0x45:
        pc += 1 + ((acc & k) !== 0 ? jt : jf);
        break;
      case 0x06:
        return k >>> 0;
      default:
        throw new Error(`unknown opcode ${code} at ${pc}`);
    }
  }
  throw new Error('fell off the end of the program');
}

describe.each(['x64', 'arm64'] as SeccompArch[])('seccomp filter (%s)', (arch) => {
  const program = seccompProgram(arch);
  const run = (nr: number, args?: number[]) => evaluate(program, { nr, arch: ARCH[arch], args });

  it('keeps every jump inside the program and ends with allow', () => {
    program.forEach((instruction, pc) => {
      if (instruction.code === 0x06) return;
      expect(pc + 1 + instruction.jt).toBeLessThan(program.length);
      expect(pc + 1 + instruction.jf).toBeLessThan(program.length);
    });
    expect(program.at(-1)).toEqual({ code: 0x06, jt: 0, jf: 0, k: SECCOMP_RET.allow });
    expect(seccompFilterBytes(arch).length).toBe(program.length * 8);
  });

  it('denies every syscall of the table with EPERM', () => {
    for (const [name, numbers] of Object.entries(DENIED_SYSCALLS)) {
      const nr = numbers[arch];
      if (nr === undefined) continue;
      expect({ name, verdict: run(nr) }).toEqual({ name, verdict: EPERM });
    }
  });

  it('allows ordinary syscalls (read, write, openat, execve)', () => {
    const ordinary = arch === 'x64' ? [0, 1, 257, 59] : [63, 64, 56, 221];
    for (const nr of ordinary) expect(run(nr)).toBe(SECCOMP_RET.allow);
  });

  it('refuses clone with any namespace flag, allows a plain fork/thread clone, and makes clone3 fall back', () => {
    const clone = arch === 'x64' ? 56 : 220;
    expect(run(clone, [0x01200011])).toBe(SECCOMP_RET.allow);
    expect(run(clone, [0x10000000 | 0x11])).toBe(EPERM);
    expect(run(clone, [0x20000000])).toBe(EPERM);
    expect(run(clone, [CLONE_NAMESPACE_FLAGS])).toBe(EPERM);
    expect(run(435)).toBe(ENOSYS);
  });

  it('refuses TIOCSTI and TIOCLINUX, allows other ioctls', () => {
    const ioctl = arch === 'x64' ? 16 : 29;
    expect(run(ioctl, [1, DENIED_IOCTLS.TIOCSTI])).toBe(EPERM);
    expect(run(ioctl, [1, DENIED_IOCTLS.TIOCLINUX])).toBe(EPERM);
    expect(run(ioctl, [1, 0x5401])).toBe(SECCOMP_RET.allow);
  });

  it('kills a process that calls in through another ABI', () => {
    expect(evaluate(program, { nr: 0, arch: ARCH.i386 })).toBe(SECCOMP_RET.killProcess);
  });
});

describe('seccomp filter (x64 only)', () => {
  it('refuses x32 syscalls, which would dodge the x86_64 numbers', () => {
    expect(evaluate(seccompProgram('x64'), { nr: 0x40000000 + 165, arch: ARCH.x64 })).toBe(EPERM);
  });
});
