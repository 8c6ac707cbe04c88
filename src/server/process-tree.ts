import { readdirSync, readFileSync } from 'node:fs';

/**
 * Pids of every live descendant of `rootPid`, read from /proc (parent links). Processes that
 * left the process group with setsid are still found here as long as their parent chain leads
 * back to the root.
 */
export function descendantPids(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const list = children.get(ppid);
      if (list) list.push(pid);
      else children.set(ppid, [pid]);
    } catch {
      // exited while we read
    }
  }
  const out: number[] = [];
  const stack = [rootPid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop()!) ?? []) {
      out.push(child);
      stack.push(child);
    }
  }
  return out;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * SIGKILLs a command and everything it started: the descendants are listed from /proc before
 * anything dies (so none is reparented away unseen), then the command, the process group it
 * leads (spawned `detached`) and every listed descendant are killed.
 */
export function killProcessTree(pid: number): void {
  const descendants = descendantPids(pid);
  // The command first: a shell that outlives its children reports each of them as "Killed".
  killQuietly(pid);
  killQuietly(-pid);
  for (const child of descendants) killQuietly(child);
}

/** SIGKILLs the process group `pgid` leads (what a finished command left running in the background). */
export function killProcessGroup(pgid: number): void {
  killQuietly(-pgid);
}
