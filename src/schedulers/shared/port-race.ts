/** What a server (Node's `listen`) prints when its port is taken. */
const ADDRESS_IN_USE = /EADDRINUSE|address already in use/i;

/**
 * Whether a server's stderr says it lost its port: the port was picked free but another program
 * bound it first (the race every dynamic-port scheduler retries).
 */
export function isAddressInUse(stderr: string): boolean {
  return ADDRESS_IN_USE.test(stderr);
}
