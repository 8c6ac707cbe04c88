import { z } from 'zod';

/**
 * zod readers for the Nomad responses this client uses. Nomad omits zero-valued fields
 * (`codec:",omitempty"`), so nearly everything is optional; objects stay loose because newer
 * agents add fields. Field names are Nomad's (Go PascalCase). Times in ns, durations in ns.
 */

export const NomadPortSchema = z.looseObject({
  Label: z.string(),
  Value: z.number().optional(),
  To: z.number().optional(),
  HostIP: z.string().optional(),
  HostNetwork: z.string().optional(),
});
export type NomadPort = z.infer<typeof NomadPortSchema>;

export const NomadNetworkSchema = z.looseObject({
  Mode: z.string().optional(),
  IP: z.string().optional(),
  DynamicPorts: z.array(NomadPortSchema).nullish(),
  ReservedPorts: z.array(NomadPortSchema).nullish(),
});

export const NomadTaskEventSchema = z.looseObject({
  Type: z.string(),
  Time: z.number().optional(),
  DisplayMessage: z.string().optional(),
  Message: z.string().optional(),
  DriverError: z.string().optional(),
  SetupError: z.string().optional(),
  ValidationError: z.string().optional(),
  KillReason: z.string().optional(),
  ExitCode: z.number().optional(),
  Signal: z.number().optional(),
  FailsTask: z.boolean().optional(),
  Details: z.record(z.string(), z.string()).nullish(),
});
export type NomadTaskEvent = z.infer<typeof NomadTaskEventSchema>;

export const NomadTaskStateSchema = z.looseObject({
  State: z.string(),
  Failed: z.boolean().optional(),
  Restarts: z.number().optional(),
  StartedAt: z.string().nullish(),
  FinishedAt: z.string().nullish(),
  Events: z.array(NomadTaskEventSchema).nullish(),
});
export type NomadTaskState = z.infer<typeof NomadTaskStateSchema>;

export const NomadAllocStubSchema = z.looseObject({
  ID: z.string(),
  EvalID: z.string().optional(),
  Name: z.string().optional(),
  NodeID: z.string().optional(),
  JobID: z.string(),
  TaskGroup: z.string().optional(),
  DesiredStatus: z.string(),
  ClientStatus: z.string(),
  ClientDescription: z.string().optional(),
  TaskStates: z.record(z.string(), NomadTaskStateSchema).nullish(),
  CreateIndex: z.number().optional(),
  ModifyIndex: z.number().optional(),
});
export type NomadAllocStub = z.infer<typeof NomadAllocStubSchema>;

export const NomadAllocationSchema = NomadAllocStubSchema.extend({
  AllocatedResources: z
    .looseObject({
      Shared: z
        .looseObject({
          Ports: z.array(NomadPortSchema).nullish(),
          Networks: z.array(NomadNetworkSchema).nullish(),
        })
        .nullish(),
    })
    .nullish(),
});
export type NomadAllocation = z.infer<typeof NomadAllocationSchema>;

export const NomadAllocMetricSchema = z.looseObject({
  NodesEvaluated: z.number().optional(),
  NodesFiltered: z.number().optional(),
  NodesExhausted: z.number().optional(),
  NodesAvailable: z.record(z.string(), z.number()).nullish(),
  ConstraintFiltered: z.record(z.string(), z.number()).nullish(),
  ClassFiltered: z.record(z.string(), z.number()).nullish(),
  DimensionExhausted: z.record(z.string(), z.number()).nullish(),
  ClassExhausted: z.record(z.string(), z.number()).nullish(),
  QuotaExhausted: z.array(z.string()).nullish(),
  CoalescedFailures: z.number().optional(),
});
export type NomadAllocMetric = z.infer<typeof NomadAllocMetricSchema>;

export const NomadEvaluationSchema = z.looseObject({
  ID: z.string(),
  JobID: z.string().optional(),
  Status: z.string(),
  StatusDescription: z.string().optional(),
  TriggeredBy: z.string().optional(),
  BlockedEval: z.string().optional(),
  FailedTGAllocs: z.record(z.string(), NomadAllocMetricSchema).nullish(),
  ModifyIndex: z.number().optional(),
});
export type NomadEvaluation = z.infer<typeof NomadEvaluationSchema>;

export const NomadRegisterResponseSchema = z.looseObject({
  EvalID: z.string().optional(),
  EvalCreateIndex: z.number().optional(),
  JobModifyIndex: z.number().optional(),
  Warnings: z.string().optional(),
});
export type NomadRegisterResponse = z.infer<typeof NomadRegisterResponseSchema>;

export const NomadValidateResponseSchema = z.looseObject({
  DriverConfigValidated: z.boolean().optional(),
  ValidationErrors: z.array(z.string()).nullish(),
  Error: z.string().optional(),
  Warnings: z.string().optional(),
});
export type NomadValidateResponse = z.infer<typeof NomadValidateResponseSchema>;

export const NomadDriverInfoSchema = z.looseObject({
  Detected: z.boolean().optional(),
  Healthy: z.boolean().optional(),
  HealthDescription: z.string().optional(),
});
export type NomadDriverInfo = z.infer<typeof NomadDriverInfoSchema>;

export const NomadNodeStubSchema = z.looseObject({
  ID: z.string(),
  Name: z.string().optional(),
  Address: z.string().optional(),
  Datacenter: z.string().optional(),
  Version: z.string().optional(),
  Status: z.string(),
  StatusDescription: z.string().optional(),
  SchedulingEligibility: z.string().optional(),
  Drivers: z.record(z.string(), NomadDriverInfoSchema).nullish(),
});
export type NomadNodeStub = z.infer<typeof NomadNodeStubSchema>;

export const NomadAgentSelfSchema = z.looseObject({
  config: z
    .looseObject({
      Version: z.looseObject({ Version: z.string(), VersionPrerelease: z.string().optional() }).optional(),
    })
    .optional(),
});
export type NomadAgentSelf = z.infer<typeof NomadAgentSelfSchema>;
