// The public API of hpc-sandbox as a library. The CLI (`hpc-sandbox`) is a thin face over these.

// Errors
export { AbortedError, ConfigError, SandboxError, UnavailableError, WaitTimeoutError, isSandboxError, type SandboxErrorCode } from './errors.js';
export { CommandError } from './common/exec.js';

// Wire protocol and client
export { DEFAULT_LIMITS, READY_FILE, SERVER_VERSION, TOOLS } from './protocol/constants.js';
export { slotId, slotIndex } from './protocol/slot-id.js';
export type { ExecuteRequest, ExecuteResponse, HealthResponse, SlotsResponse } from './protocol/types.js';
export { SandboxClient, SandboxHttpError, type SandboxClientOptions } from './client/index.js';

// Drivers and images
export type { Detection, Driver, DriverName, LaunchPlan, SandboxSpec } from './drivers/driver.js';
export { DRIVER_NAMES } from './drivers/driver.js';
export { allDrivers, getDriver } from './drivers/index.js';
export { ensureImage, imageFormatFor, type EnsuredImage, type ImageFormat } from './images/index.js';

// Schedulers and placements
export type { Placement, PlacementRequest, PortRequest, Scheduler, SchedulerName } from './schedulers/scheduler.js';
export { LocalScheduler, type LocalSchedulerOptions } from './schedulers/local/index.js';
export { NomadScheduler, NomadApiError, startLocalAgent, type NomadSchedulerOptions } from './schedulers/nomad/index.js';

// Slot pool
export { SlotPool, Slot, AcquireTimeoutError, PlacementLostError, PoolClosedError, type SlotPoolOptions } from './pool/index.js';

// Harness: suites, runner, reports
export { defineSuite, type SuiteInput } from './harness/suite/schema.js';
export { loadSuite, parseSuite, type ResolvedSuite } from './harness/suite/load.js';
export { runSuite, type RunOptions } from './harness/runner.js';
export { RunEvents, type RunEvent } from './harness/events.js';
export { evaluateReference } from './harness/references.js';
export type { CheckResult, LegResult, Reference, RunReport, StartupSeries, Statistics } from './harness/results.js';
export { writeReportDir } from './harness/report/write-report-dir.js';
