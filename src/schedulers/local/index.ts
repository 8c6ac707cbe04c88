export { LocalScheduler, PLACEMENT_LABEL, TASK_NAME, assertPortFree, dialAddress, type LocalSchedulerOptions } from './local-scheduler.js';
export { LocalPlacement, type LocalTask } from './local-placement.js';
export { startProcess, processGroupMembers, type ProcessExit, type RunningProcess, type StartProcessOptions } from './process-runner.js';
export {
  dockerClient,
  securityHostConfig,
  startContainer,
  sweepContainers,
  type ContainerExit,
  type RunningContainer,
  type StartContainerOptions,
} from './container-runner.js';
export { createAllocDir, type AllocDir } from '../shared/alloc-dir.js';
export { waitForReadyFile, readyFilePath, type ReadyInfo } from '../shared/ready-file.js';
export { PLACEHOLDER_VARIABLES, placeholdersToVariables, shellWord, wrapInShell } from './shell-wrapper.js';
export { LocalPlacementError, PortInUseError, ReadyPortMismatchError } from './errors.js';
export { isPortReserved, reserveFreePort, type PortReservation, type ReserveFreePortOptions } from '../shared/port-reservations.js';
export { registerExitHook, type ExitHookEntry } from '../shared/exit-hook.js';
