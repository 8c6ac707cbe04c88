import { describe, expect, it } from 'vitest';
import { defaultImageRef, imageFormatFor } from './image-format.js';

describe('default images', () => {
  it('names the Docker tag and the stable links in the cache', () => {
    expect(defaultImageRef('docker', '/c')).toBe('hpc-sandbox/sandbox:local');
    expect(defaultImageRef('squashfs', '/c')).toBe('/c/images/hpc-sandbox.sqfs');
    expect(defaultImageRef('dir', '/c')).toBe('/c/images/hpc-sandbox.dir');
    expect(defaultImageRef('sif', '/c')).toBe('/c/images/hpc-sandbox.sif');
  });

  it('maps each driver to the format it runs by default', () => {
    expect(['process', 'docker', 'singularity', 'charliecloud', 'podman'].map((d) => imageFormatFor(d as never))).toEqual([
      undefined, 'docker', 'sif', 'squashfs', undefined,
    ]);
  });
});
