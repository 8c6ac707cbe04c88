import { describe, expect, it } from 'vitest';
import { fromNomadMeta, fromSlurmComment, toNomadMeta, toSlurmComment, whyRunIsDead, type RunLabel } from './run-label.js';
import { parseDuration } from '../cleanup/sweep-leftovers.js';

const label: RunLabel = { runId: 'run-1', host: 'login1', pid: 4242, startedAtMs: 1_000_000 };
const self: RunLabel = { runId: 'me', host: 'login1', pid: 1, startedAtMs: 0 };

describe('run labels', () => {
  it('round-trips through Nomad Meta and the Slurm comment, and ignores what is not ours', () => {
    expect(fromNomadMeta(toNomadMeta(label))).toEqual(label);
    expect(fromSlurmComment(toSlurmComment(label))).toEqual(label);
    expect(fromSlurmComment('some user comment')).toBeUndefined();
    expect(fromNomadMeta({ owner: 'someone' })).toBeUndefined();
    expect(fromNomadMeta(null)).toBeUndefined();
  });

  it('calls a run dead when its pid on this host is gone or it is older than --older-than, never this run', () => {
    const base = { self, host: 'login1', nowMs: 1_060_000 };
    expect(whyRunIsDead(label, { ...base, isAlive: () => false })).toBe('its process 4242 on login1 is gone');
    expect(whyRunIsDead(label, { ...base, isAlive: () => true })).toBeUndefined();
    expect(whyRunIsDead(label, { ...base, isAlive: () => true, olderThanMs: 30_000 })).toBe('started 60 s ago (older than --older-than)');
    // Another host's pid means nothing here.
    expect(whyRunIsDead({ ...label, host: 'node7' }, { ...base, isAlive: () => false })).toBeUndefined();
    expect(whyRunIsDead({ ...label, runId: 'me' }, { ...base, isAlive: () => false, olderThanMs: 1 })).toBeUndefined();
  });

  it('reads --older-than durations and refuses others with the accepted forms', () => {
    expect([parseDuration('90s'), parseDuration('30m'), parseDuration('2h'), parseDuration('1d')]).toEqual([90_000, 1_800_000, 7_200_000, 86_400_000]);
    expect(() => parseDuration('soon')).toThrow('--older-than soon is not a duration: use a number and a unit, e.g. 90s, 30m, 2h, 1d');
  });
});
