import { randomUUID } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWith } from '../../../test/gate.js';
import type { CapabilityName } from '../../../test/capabilities.js';
import { getDriver } from '../../drivers/index.js';
import type { Driver, DriverName, SandboxSpec } from '../../drivers/driver.js';
import { CONTAINER_PORT } from '../../drivers/server-command.js';
import type { ImageFormat } from '../../images/image-format.js';
import { SandboxClient } from '../../client/sandbox-client.js';
import { isSandboxError } from '../../errors.js';
import { SlotPool } from '../../pool/slot-pool.js';
import type { PlacementRequest } from '../scheduler.js';
import { dockerClient, sweepContainers } from './container-runner.js';
import { PortInUseError } from './errors.js';
import type { LocalPlacement } from './local-placement.js';
import { LocalScheduler } from './local-scheduler.js';
import { processGroupMembers } from './process-runner.js';

const LEGS: Array<{ driver: DriverName; needs: CapabilityName[]; image?: ImageFormat }> = [
  { driver: 'process', needs: [] },
  { driver: 'docker', needs: ['docker'], image: 'docker' },
  { driver: 'charliecloud', needs: ['charliecloud', 'squashfs'], image: 'squashfs' },
  // Apptainer cannot be installed on the CI machine: this leg runs wherever `apptainer` is on PATH.
  { driver: 'singularity', needs: ['apptainer'], image: 'sif' },
];

const SPEC: SandboxSpec = { slots: 2, envAllowlist: [], env: {}, isolation: 'auto' };

const exists = (path: string) => access(path).then(() => true, () => false);

/** Nothing of the placement is left: no process of its group, no container, no alloc dir. */
async function expectNothingLeft(placement: LocalPlacement): Promise<void> {
  if (placement.processGroup !== undefined) expect(processGroupMembers(placement.processGroup)).toEqual([]);
  if (placement.containerId !== undefined) {
    const docker = await dockerClient();
    const inspected = await docker.getContainer(placement.containerId).inspect().catch((e: { statusCode?: number }) => e.statusCode);
    expect(inspected).toBe(404);
  }
  expect(await exists(placement.allocDir)).toBe(false);
}

for (const leg of LEGS) {
  describeWith(leg.needs, `local x ${leg.driver}`, () => {
    const sessionId = `test-${randomUUID()}`;
    let scheduler: LocalScheduler;
    const request = (ports: PlacementRequest['ports'] = { mode: 'dynamic' }): PlacementRequest => ({
      driver: getDriver(leg.driver),
      spec: SPEC,
      ports,
      name: `it-${leg.driver}`,
    });

    beforeAll(async () => {
      if (leg.image) {
        const { ensureImage } = await import('../../images/index.js');
        await ensureImage(leg.image);
      }
      scheduler = new LocalScheduler({ sessionId, stopGraceMs: 2_000 });
    });

    afterAll(async () => {
      const base = await scheduler.baseDir();
      await scheduler.close();
      expect(await exists(base)).toBe(false);
      if (leg.driver === 'docker') expect(await sweepContainers(sessionId, { remove: true })).toEqual([]);
    });

    it('passes bash and file operations through the pool, resets on release, and stops leaving nothing behind', async () => {
      const pool = new SlotPool({ scheduler, request: request(), minPlacements: 1, maxPlacements: 1 });
      let placement: LocalPlacement | undefined;
      try {
        const slot = await pool.acquire('traj-1');
        placement = pool.placements[0] as LocalPlacement;
        expect(placement.timestamps).toMatchObject({ submitted: expect.any(Number), placed: expect.any(Number), started: expect.any(Number), healthy: expect.any(Number) });
        expect(placement.url).toBe(`http://127.0.0.1:${placement.port}`);
        const echo = await slot.bash('echo "hello from $PWD"');
        expect(echo.success).toBe(true);
        expect(echo.output).toMatch(/^hello from \//);
        expect((await slot.writeFile('notes/a.txt', 'payload 1')).success).toBe(true);
        expect((await slot.readFile('notes/a.txt')).output).toBe('payload 1');
        expect((await slot.bash('cat notes/a.txt && ls notes')).output).toBe('payload 1a.txt');
        const [one, two] = await slot.batch([
          { tool: 'bash', args: { command: 'echo one' } },
          { tool: 'read_file', args: { path: 'notes/a.txt' } },
        ]);
        expect([one?.output, two?.output]).toEqual(['one', 'payload 1']);
        const slotId = slot.slotId;
        await slot.release();

        const again = await pool.acquire('traj-2');
        expect(again.slotId).toBe(slotId); // LIFO: the slot just reset
        expect((await again.bash('ls -A | wc -l')).output.trim()).toBe('0');
        await again.release({ reset: false });
        // The server's start-up line reached the alloc's log file.
        expect((await placement.logs({ tailLines: 50 })).stderr).toContain('sandbox server listening on');
      } finally {
        await pool.close();
      }
      expect(placement).toBeDefined();
      await expectNothingLeft(placement!);
    });

    it('recovers from a killed sandbox: the in-flight call errors, a replacement serves the next acquire', async () => {
      const pool = new SlotPool({ scheduler, request: request(), minPlacements: 1, maxPlacements: 1 });
      try {
        const slot = await pool.acquire('victim');
        const victim = pool.placements[0] as LocalPlacement;
        // Caught at once: it may fail while the kill below is still being awaited.
        const inFlight = slot.bash('sleep 60', { timeout: 90 }).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 300));
        if (victim.containerId) await (await dockerClient()).getContainer(victim.containerId).kill();
        else process.kill(-victim.processGroup!, 'SIGKILL');
        const error = await inFlight;
        expect(error).toBeInstanceOf(Error);
        expect(isSandboxError(error, 'HPCSB_PLACEMENT_LOST') || isSandboxError(error, 'HPCSB_SANDBOX_HTTP')).toBe(true);
        expect((await victim.exited).reason).toMatch(/killed by SIGKILL|exited with code (137|1)\b/);

        const next = await pool.acquire('next', { timeoutMs: 60_000 });
        expect(next.placementId).not.toBe(victim.id);
        expect((await next.bash('echo alive')).output).toBe('alive');
        expect(pool.stats()).toMatchObject({ lost: 1, placements: 1 });
        await next.release();
        await expectNothingLeft(victim);
      } finally {
        await pool.close();
      }
    });

    it('gives two parallel dynamic placements distinct ports', async () => {
      const placements = (await Promise.all([scheduler.place(request()), scheduler.place(request())])) as LocalPlacement[];
      try {
        expect(placements[0]!.port).not.toBe(placements[1]!.port);
        await Promise.all(placements.map((p) => p.waitUntilHealthy({ timeoutMs: 60_000 })));
        expect(await placements[0]!.status()).toBe('running');
      } finally {
        await Promise.all(placements.map((p) => p.stop()));
      }
      for (const p of placements) await expectNothingLeft(p);
    });

    it('sets {{port}} in the task environment to the port the server listens on', async () => {
      const placement = (await scheduler.place({ ...request(), spec: { ...SPEC, env: { X: '{{port}}' } } })) as LocalPlacement;
      try {
        await placement.waitUntilHealthy({ timeoutMs: 60_000 });
        const client = new SandboxClient(placement.url);
        try {
          const echoed = await client.bash('slot_0', 'echo "$X"');
          expect(echoed.success).toBe(true);
          const health = await client.health();
          // Exec plans share the host network: the server listens on the placement's port. A
          // container listens on its container port, which Docker maps to the placement's port.
          const listening = placement.containerId === undefined ? placement.port : CONTAINER_PORT;
          expect(health.port).toBe(listening);
          expect(echoed.output).toBe(String(listening));
        } finally {
          await client.close();
        }
      } finally {
        await placement.stop();
      }
      await expectNothingLeft(placement);
    });

    it('refuses a static port that is taken, naming the port, and leaves nothing behind', async () => {
      const blocker: Server = createServer();
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as { port: number }).port;
      const base = await scheduler.baseDir();
      const before = await readdir(base);
      try {
        const error = await scheduler.place(request({ mode: 'static', port })).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PortInUseError);
        expect((error as Error).message).toContain(`Static port ${port} on 127.0.0.1 is already in use`);
      } finally {
        await new Promise((r) => blocker.close(r));
      }
      // An idle scheduler removes the base dir it made; a busy one keeps it, with nothing new in it.
      const after = await readdir(base).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
      expect(after).toEqual(before);
    });

    it.skipIf(leg.driver !== 'process')('expands $VARS in the command like a Nomad raw_exec task', async () => {
      const processDriver = getDriver('process');
      // The data dir given as Nomad's variable instead of the placeholder: only the shell can resolve it.
      const viaVariable: Driver = {
        name: 'process',
        detect: (o) => processDriver.detect(o),
        plan: async (spec, o) => {
          const plan = await processDriver.plan(spec, o);
          if (plan.kind !== 'exec') throw new Error('expected an exec plan');
          return { ...plan, argv: plan.argv.map((a) => (a === '{{dataDir}}' ? '${NOMAD_ALLOC_DIR}/data' : a)) };
        },
      };
      const placement = (await scheduler.place({ ...request(), driver: viaVariable })) as LocalPlacement;
      try {
        await placement.waitUntilHealthy({ timeoutMs: 60_000 });
        const client = new SandboxClient(placement.url);
        try {
          expect((await client.health()).data_dir).toBe(placement.dataDir);
        } finally {
          await client.close();
        }
      } finally {
        await placement.stop();
      }
      await expectNothingLeft(placement);
    });

    it('serves on a free static port', async () => {
      const probe: Server = createServer();
      await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
      const port = (probe.address() as { port: number }).port;
      await new Promise((r) => probe.close(r));
      const placement = (await scheduler.place(request({ mode: 'static', port }))) as LocalPlacement;
      try {
        expect(placement.port).toBe(port);
        await placement.waitUntilHealthy({ timeoutMs: 60_000 });
        expect(placement.timestamps.healthy).toBeGreaterThanOrEqual(placement.timestamps.submitted);
      } finally {
        await placement.stop();
      }
      await expectNothingLeft(placement);
    });
  });
}

describeWith([], 'local scheduler nobody closes', () => {
  it('removes the temp base dir it made once its last placement stops', async () => {
    const scheduler = new LocalScheduler({ exitHook: false });
    const placement = await scheduler.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' } });
    const base = await scheduler.baseDir();
    expect(await exists(base)).toBe(true);
    await placement.stop();
    expect(await exists(base)).toBe(false);
    // The next placement makes a new one.
    const again = await scheduler.place({ driver: getDriver('process'), spec: SPEC, ports: { mode: 'dynamic' } });
    const nextBase = await scheduler.baseDir();
    expect(await exists(nextBase)).toBe(true);
    await again.stop();
    expect(await exists(nextBase)).toBe(false);
  });
});
