import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSandboxError } from '../../errors.js';
import { PODMAN_NOT_OFFERED, PodmanDriver } from './podman-driver.js';

describe('PodmanDriver', () => {
  it('is not offered, and says why and what to use instead', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'hpcsb-empty-'));
    try {
      const detection = await new PodmanDriver({ env: { PATH: empty } }).detect();
      expect(detection).toEqual({ available: false, reason: `podman: not on PATH; and ${PODMAN_NOT_OFFERED}` });
      expect(detection.reason).toContain('DOCKER_HOST=unix://');
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('refuses to plan with a ConfigError', async () => {
    const planning = new PodmanDriver().plan();
    await expect(planning).rejects.toThrowError(`The podman driver is ${PODMAN_NOT_OFFERED}`);
    await expect(planning).rejects.toSatisfy((e) => isSandboxError(e, 'HPCSB_CONFIG_INVALID'));
  });
});
