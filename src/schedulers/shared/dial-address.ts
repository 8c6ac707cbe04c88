/** The address to dial for a bind (or allocated) address: wildcards and none become loopback. */
export function dialAddress(bindHost: string | undefined): string {
  if (!bindHost || bindHost === '0.0.0.0') return '127.0.0.1';
  if (bindHost === '::' || bindHost === '[::]') return '::1';
  return bindHost;
}
