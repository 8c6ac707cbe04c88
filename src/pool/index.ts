export { SlotPool, type SlotPoolOptions, type SlotPoolStats } from './slot-pool.js';
export { Slot, type SlotBatchItem, type SlotCallOptions, type SlotLease } from './slot.js';
export { AcquireTimeoutError, PlacementLostError, PoolClosedError, SlotReleasedError, type PoolCounts } from './errors.js';
export { type Connect, type ExecuteRequest, type ExecuteResponse, type SandboxConnection, connectSandboxClient } from './sandbox-connection.js';
export { FifoQueue, FreeList } from './free-list.js';
