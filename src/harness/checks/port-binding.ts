import { freePort } from '../../common/free-port.js';
import { z } from 'zod';
import { placementUrl } from '../../schedulers/scheduler.js';
import { defineCheck, type PlacedSandbox } from './check.js';
import { ensure, quote } from './check-failure.js';

const NAME = 'port-binding';

/**
 * Where the scheduler says the sandbox listens, it answers: the placement's address is a real
 * address (no wildcard) and /health answers there; a static port is the port asked for; two
 * dynamic placements never share a port. On a dynamic leg the check also places one sandbox on a
 * static port (a free one found here, or `staticPort`).
 */
export const portBindingCheck = defineCheck({
  name: NAME,
  description: "the placement's address answers; a static port is honoured; two dynamic placements get distinct ports",
  options: z
    .object({
      /** Also place a sandbox on a static port when the leg is dynamic. */
      static: z.boolean().default(true),
      /** The static port to ask for; default: a port free on this host right now. */
      staticPort: z.number().int().min(1).max(65535).optional(),
    })
    .strict(),
  async run(context, options) {
    const { placement, ports, signal } = context;
    await answersAtItsAddress(context);
    const details: Record<string, unknown> = { port: placement.port, mode: ports.mode };

    if (ports.mode === 'static') {
      ensure(placement.port === ports.port, NAME, `static port ${ports.port} was asked for, the placement listens on ${placement.port}`);
    }

    const second = await context.placeSandbox({ ports: { mode: 'dynamic' } });
    await answersAtItsAddress(second, signal);
    if (ports.mode === 'dynamic') {
      ensure(
        second.placement.port !== placement.port,
        NAME,
        `two dynamic placements share port ${placement.port} (${placement.id}, ${second.placement.id})`,
      );
    }
    details.secondPort = second.placement.port;

    if (ports.mode === 'dynamic' && options.static) {
      const wanted = options.staticPort ?? (await freePort());
      const pinned = await context.placeSandbox({ ports: { mode: 'static', port: wanted } });
      ensure(pinned.placement.port === wanted, NAME, `static port ${wanted} was asked for, the placement listens on ${pinned.placement.port}`);
      await answersAtItsAddress(pinned, signal);
      details.staticPort = wanted;
    }
    return { state: 'passed', details };
  },
});

async function answersAtItsAddress(sandbox: PlacedSandbox & { signal?: AbortSignal }, signal = sandbox.signal): Promise<void> {
  const { placement, client } = sandbox;
  ensure(
    !['0.0.0.0', '::', '[::]', ''].includes(placement.host),
    NAME,
    `placement ${placement.id} reports the wildcard address ${quote(placement.host)} instead of one to dial`,
  );
  ensure(
    placement.url === placementUrl(placement.host, placement.port),
    NAME,
    `placement ${placement.id} url ${placement.url} does not match host ${placement.host} and port ${placement.port}`,
  );
  const health = await client.health({ signal });
  ensure(health.status === 'ok' || health.status === 'healthy', NAME, `GET ${placement.url}/health answered status ${quote(health.status)}`, health);
}

// Re-exported: the checks' tests take their static ports from here.
export { freePort };
