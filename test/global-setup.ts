import type { TestProject } from 'vitest/node';
import { execOrThrow } from '../src/common/exec.js';
import { projectRoot } from '../src/common/paths.js';
import { type Capabilities, probeCapabilities } from './capabilities.js';

declare module 'vitest' {
  export interface ProvidedContext {
    capabilities: Capabilities;
  }
}

// Builds the server bundle (integration tests run the real thing) and probes the machine once.
export default async function setup(project: TestProject): Promise<void> {
  await execOrThrow(process.execPath, ['scripts/build.mjs'], { cwd: projectRoot() });
  project.provide('capabilities', await probeCapabilities());
}
