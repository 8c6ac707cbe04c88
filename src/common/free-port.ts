import { type AddressInfo, createServer, type Server } from 'node:net';

/** Binds port 0 on `host` (the kernel picks a free port) and resolves with the listening server. */
function listenOnFreePort(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => resolve(server));
  });
}

/**
 * `count` distinct TCP ports nobody listens on at this instant (the kernel's picks for port 0,
 * held together so none repeats, then closed). Another program may take one before the caller
 * binds it; callers that place servers reserve through `schedulers/shared/port-reservations.ts`.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOnFreePort(host)));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A TCP port nobody listens on at this instant on `host` (the kernel's pick for port 0). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port!;
}
