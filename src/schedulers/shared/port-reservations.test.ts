import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isPortReserved, reserveFreePort } from './port-reservations.js';

describe('reserveFreePort', () => {
  it('hands out ports that are free on the host, each once, until released', async () => {
    const reservations = await Promise.all(Array.from({ length: 20 }, () => reserveFreePort('127.0.0.1')));
    try {
      const ports = reservations.map((r) => r.port);
      expect(new Set(ports).size).toBe(ports.length);
      expect(ports.every(isPortReserved)).toBe(true);
      // Free on the host: a server can listen on it.
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(ports[0], '127.0.0.1', resolve);
      });
      await new Promise((resolve) => server.close(resolve));
    } finally {
      for (const r of reservations) r.release();
    }
    expect(reservations.some((r) => isPortReserved(r.port))).toBe(false);
  });

  it('skips a port the kernel offers again while it is reserved, and offers it once released', async () => {
    const offers = [47001, 47001, 47002, 47001];
    const findFreePort = async () => offers.shift()!;
    const first = await reserveFreePort('127.0.0.1', { findFreePort });
    const second = await reserveFreePort('127.0.0.1', { findFreePort });
    expect([first.port, second.port]).toEqual([47001, 47002]);
    first.release();
    first.release(); // idempotent: must not free a port someone else reserved since
    const third = await reserveFreePort('127.0.0.1', { findFreePort });
    expect(third.port).toBe(47001);
    second.release();
    third.release();
    expect([isPortReserved(47001), isPortReserved(47002)]).toEqual([false, false]);
  });

  it('gives up, naming the ports, when every offer is reserved already', async () => {
    const held = await reserveFreePort('127.0.0.1', { findFreePort: async () => 47010 });
    try {
      await expect(reserveFreePort('127.0.0.1', { findFreePort: async () => 47010, attempts: 3 })).rejects.toThrowError(
        'Could not reserve a free port on 127.0.0.1: 3 free ports offered were all reserved already by this process (47010, 47010, 47010)',
      );
    } finally {
      held.release();
    }
  });
});
