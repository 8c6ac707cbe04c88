import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../common/paths.js';

let cached: string | undefined;

/** hpc-sandbox's version from its package.json (reports name the tool that wrote them). */
export function toolVersion(): string {
  cached ??= (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return cached;
}
