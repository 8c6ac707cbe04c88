import { freePort } from '../../common/free-port.js';

/** A port this process has promised to one placement. Release it once that placement is gone. */
export interface PortReservation {
  readonly port: number;
  /** Makes the port available to later reservations. Idempotent. */
  release(): void;
}

export interface ReserveFreePortOptions {
  /** Asks for a free port on `host`. @default bind port 0 on `host`, read the port, close */
  findFreePort?: (host: string) => Promise<number>;
  /** How many answers may be ports already reserved before giving up. @default 20 */
  attempts?: number;
}

/**
 * Ports reserved and not yet released, shared by every scheduler of this process. The kernel may
 * hand the same free port to two probes once the first probe has closed; this set is what keeps
 * two placements of this process from being given one port before either server listens.
 */
const reservedPorts = new Set<number>();

/**
 * Picks a port that is free on `host` now and reserves it in this process: no other reservation
 * gets it until `release()`. Another process may still take it before the server listens; the
 * caller handles that (EADDRINUSE) by reserving another.
 *
 * @example
 * const reservation = await reserveFreePort('127.0.0.1');
 * startServer(reservation.port); // ... and once the server has stopped:
 * reservation.release();
 */
export async function reserveFreePort(host: string, options: ReserveFreePortOptions = {}): Promise<PortReservation> {
  const findFreePort = options.findFreePort ?? freePort;
  const attempts = options.attempts ?? 20;
  const taken: number[] = [];
  for (let i = 0; i < attempts; i++) {
    const port = await findFreePort(host);
    // Checked and added with no await in between: two concurrent callers cannot both pass.
    if (reservedPorts.has(port)) {
      taken.push(port);
      continue;
    }
    reservedPorts.add(port);
    let released = false;
    return {
      port,
      release: () => {
        if (released) return;
        released = true;
        reservedPorts.delete(port);
      },
    };
  }
  throw new Error(
    `Could not reserve a free port on ${host}: ${attempts} free ports offered were all reserved already by this process (${taken.join(', ')})`,
  );
}

/** Whether `port` is reserved by a placement of this process. */
export function isPortReserved(port: number): boolean {
  return reservedPorts.has(port);
}

