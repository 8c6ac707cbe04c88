/** Client of the sandbox server. */
export { SandboxClient, type BashOptions, type CallOptions, type SandboxClientOptions, type WaitUntilHealthyOptions } from './sandbox-client.js';
export { SandboxHttpError } from './sandbox-http-error.js';
