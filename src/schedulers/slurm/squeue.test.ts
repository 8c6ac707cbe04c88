import { describe, expect, it } from 'vitest';
import { isHopelessPending, isTerminal, parseScontrolExit, parseSqueueLine } from './squeue.js';

describe('squeue parsing', () => {
  it('reads state, node list and reason', () => {
    expect(parseSqueueLine('RUNNING|vm|None\n')).toEqual({ state: 'RUNNING', nodes: 'vm', reason: 'None' });
    expect(parseSqueueLine('PENDING||Priority\n')).toEqual({ state: 'PENDING', nodes: '', reason: 'Priority' });
    expect(parseSqueueLine('RUNNING|gpu[01-03]|None')).toEqual({ state: 'RUNNING', nodes: 'gpu[01-03]', reason: 'None' });
  });

  it('reads empty output as a job squeue no longer lists', () => {
    expect(parseSqueueLine('')).toBeUndefined();
    expect(parseSqueueLine('\n')).toBeUndefined();
  });

  it('knows which states are over', () => {
    expect(['CANCELLED', 'COMPLETED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'CANCELLED+'].every(isTerminal)).toBe(true);
    expect(['PENDING', 'RUNNING', 'COMPLETING', 'CONFIGURING', 'SUSPENDED'].some(isTerminal)).toBe(false);
  });

  it('reads the exit code of scontrol show job -o, not the derived one', () => {
    const line = 'JobId=7 JobName=hpcsb-x JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 DerivedExitCode=0:0 NodeList=vm';
    expect(parseScontrolExit(line)).toEqual({ exitCode: 3, signal: 0 });
    expect(parseScontrolExit('JobId=8 DerivedExitCode=0:9')).toBeUndefined();
  });

  it('tells pending reasons that never clear from waiting', () => {
    expect(isHopelessPending('PartitionTimeLimit')).toBe(true);
    expect(isHopelessPending('ReqNodeNotAvail, UnavailableNodes:vm')).toBe(true);
    expect(isHopelessPending('Priority')).toBe(false);
    expect(isHopelessPending('Resources')).toBe(false);
  });
});
