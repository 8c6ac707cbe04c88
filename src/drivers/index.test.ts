import { describe, expect, it } from 'vitest';
import { DRIVER_NAMES, type DriverName } from './driver.js';
import { allDrivers, getDriver } from './index.js';

describe('getDriver / allDrivers', () => {
  it('returns one driver per name, named as asked', () => {
    for (const name of DRIVER_NAMES) expect(getDriver(name).name).toBe(name);
    expect(allDrivers().map((d) => d.name)).toEqual([...DRIVER_NAMES]);
  });

  it('rejects an unknown name with the list of drivers', () => {
    expect(() => getDriver('kubernetes' as DriverName)).toThrowError(
      'Unknown driver `kubernetes`: expected one of process, docker, singularity, charliecloud, podman',
    );
  });
});
