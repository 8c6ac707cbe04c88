import { findOnPath } from './find-on-path.js';

/**
 * Outbound network for a slot without a way back: the sandbox always gets its own network
 * namespace; with `allow_network: true` a user-mode stack (passt's `pasta`) gives it an interface
 * and a default route that reach the outside as the slot's uid would, while the host's loopback
 * (the sandbox server's own port, every other local service, abstract unix sockets) stays out of
 * reach: `--no-map-gw` keeps the gateway from being mapped to the host, and no port is forwarded
 * either way. pasta creates the user and network namespaces and starts bwrap inside them, so it
 * needs no access to the sandbox's processes (attaching to a running bwrap child needs ptrace
 * rights on it, which an unprivileged uid does not have; slirp4netns only works that way, so it is
 * not used).
 */
export interface NetworkStack {
  kind: 'pasta';
  path: string;
  /**
   * util-linux `setpriv`, which starts pasta with a parent-death signal. pasta has no
   * die-with-parent of its own: when the server is SIGKILLed, pasta (and the bwrap under it, which
   * only dies with pasta) would live on, orphaned, and spin on the closed pipes.
   */
  setprivPath?: string;
}

export function findNetworkStack(env: NodeJS.ProcessEnv = process.env): NetworkStack | undefined {
  const path = findOnPath('pasta', env);
  if (!path) return undefined;
  const setprivPath = findOnPath('setpriv', env);
  return setprivPath ? { kind: 'pasta', path, setprivPath } : { kind: 'pasta', path };
}

/** The argv that runs `program` (bwrap) in a fresh user + network namespace behind pasta. */
export function networkStackArgv(stack: NetworkStack, program: readonly string[]): string[] {
  // The death signal is set after the spawn took the slot's uid (a uid change clears it) and is
  // kept across the exec of pasta, which stays in the foreground as the server's child; bwrap's
  // --die-with-parent then takes the sandbox down with pasta.
  const dieWithServer = stack.setprivPath ? [stack.setprivPath, '--pdeathsig', 'KILL', '--'] : [];
  // -l /dev/null: pasta reports to syslog, and where there is none it prints "Failed to send N
  // bytes to syslog" on the command's stderr.
  return [...dieWithServer, stack.path, '--config-net', '--quiet', '-l', '/dev/null', '--no-map-gw', '-t', 'none', '-u', 'none', '-T', 'none', '-U', 'none', '--', ...program];
}
