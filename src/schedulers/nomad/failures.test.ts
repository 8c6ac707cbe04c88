import { describe, expect, it } from 'vitest';
import { nomadResponse } from '../../../fixtures/nomad/responses.js';
import type { NomadAllocation, NomadEvaluation } from './api-types.js';
import { describePlacementFailure, describeTaskEvent, fatalTaskEvent } from './failures.js';
import { allocAddress } from './placement.js';

const failed = (name: string) => Object.entries(nomadResponse<NomadEvaluation>(name).FailedTGAllocs ?? {})[0]!;

describe('describePlacementFailure (FailedTGAllocs)', () => {
  it('names the colliding static port and its label', () => {
    const [group, metric] = failed('evaluation-port-collision');
    expect(describePlacementFailure(group, metric)).toBe(
      'task group "sandbox" was not placed: static port 8080 (label http) is already reserved by another allocation on 1 node ' +
        '(Nomad: "network: reserved port collision http=8080"); use dynamic ports or another port',
    );
  });

  it('says no node has the driver, naming it when known', () => {
    const [group, metric] = failed('evaluation-missing-drivers');
    expect(describePlacementFailure(group, metric, 'raw_exec')).toBe(
      'task group "sandbox" was not placed: no node has the raw_exec driver detected and healthy (1 node filtered: "missing drivers")',
    );
    expect(describePlacementFailure(group, metric)).toContain("no node has the task's driver detected and healthy");
  });

  it('names the exhausted resource', () => {
    const [group, metric] = failed('evaluation-memory-exhausted');
    expect(describePlacementFailure(group, metric)).toContain('not enough memory left on 1 node');
  });

  it('says when no node was ready in the datacenters asked for', () => {
    const [group, metric] = failed('evaluation-no-nodes');
    expect(describePlacementFailure(group, metric)).toBe('task group "sandbox" was not placed: no ready node to evaluate (nodes available per datacenter: dc2: 0)');
  });
});

describe('task failures', () => {
  it('finds the Driver Failure event and quotes the driver error', () => {
    const alloc = nomadResponse<NomadAllocation>('allocation-driver-failure');
    const event = fatalTaskEvent(alloc.TaskStates?.server);
    expect(event?.Type).toBe('Driver Failure');
    expect(describeTaskEvent(event!)).toBe(
      'Driver Failure: failed to launch command with executor: rpc error: code = Unknown desc = binary "apptainer" could not be found',
    );
  });

  it('finds a Failed Validation (unknown ${variable}) event', () => {
    const [stub] = nomadResponse<NomadAllocation[]>('job-allocations-failed-validation');
    expect(describeTaskEvent(fatalTaskEvent(stub!.TaskStates?.server)!)).toContain('Failed Validation: failed to parse config:');
    expect(describeTaskEvent(fatalTaskEvent(stub!.TaskStates?.server)!)).toContain('There is no variable named "MY_PORT"');
  });

  it('sees nothing fatal in a running task', () => {
    expect(fatalTaskEvent(nomadResponse<NomadAllocation>('allocation-running').TaskStates?.server)).toBeUndefined();
  });
});

describe('allocAddress', () => {
  it('reads HostIP and Value from AllocatedResources.Shared.Ports', () => {
    expect(allocAddress(nomadResponse('allocation-running'))).toEqual({ host: '127.0.0.1', port: 24510 });
  });

  it("falls back to the group network's ReservedPorts/DynamicPorts and IP", () => {
    expect(allocAddress(nomadResponse('allocation-networks-only'))).toEqual({ host: '10.0.3.17', port: 8080 });
  });

  it('is undefined while no port is assigned, and dials loopback for a wildcard HostIP', () => {
    const alloc = nomadResponse<NomadAllocation>('allocation-running');
    expect(allocAddress({ ...alloc, AllocatedResources: null })).toBeUndefined();
    const wildcard = nomadResponse<NomadAllocation>('allocation-running');
    wildcard.AllocatedResources!.Shared!.Ports![0]!.HostIP = '0.0.0.0';
    expect(allocAddress(wildcard)).toEqual({ host: '127.0.0.1', port: 24510 });
  });
});
