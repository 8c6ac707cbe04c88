/** The Nomad scheduler: client, job specs, placements, the local `nomad agent -dev`. */
export { NomadClient, type NomadClientOptions, type BlockingOptions, type Indexed } from './client.js';
export { NomadApiError, NomadPlacementError } from './errors.js';
export { buildJob, escapeForNomad, JOB_GROUP, JOB_TASK, PORT_LABEL, rawExecLaunchScript, type JobSpecOptions, type NomadJob } from './jobspec.js';
export { describePlacementFailure, describeTaskEvent, fatalTaskEvent } from './failures.js';
export { allocAddress, NomadPlacement, type AllocAddress } from './placement.js';
export { NomadScheduler, NOMAD_DOUBLE_VERSION, type NomadSchedulerOptions } from './scheduler.js';
export {
  agentConfigFor,
  nomadTaskDriverFor,
  renderAgentConfig,
  startLocalAgent,
  type LocalAgentOptions,
  type LocalNomadAgent,
  type NomadTaskDriver,
} from './agent.js';
export { describeNomadVersion, NOMAD_DOUBLE_ENV, nomadDoubleBinDir } from './double.js';
