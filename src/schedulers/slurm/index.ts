export { SlurmScheduler, SLURM_DRIVERS, isThisHost, type SlurmSchedulerOptions } from './slurm-scheduler.js';
export { SlurmPlacement, type SlurmJobDir } from './slurm-placement.js';
export { SlurmCli, sbatchArgs, type CommandRunner, type SbatchRequest } from './slurm-cli.js';
export { SlurmCommandError, classifySlurmStderr, slurmError, type SlurmErrorKind } from './slurm-errors.js';
export { renderBatchScript, type BatchScriptOptions } from './batch-script.js';
export { parseSqueueLine, isTerminal, SQUEUE_FORMAT, type SqueueJob } from './squeue.js';
