import { bashCheck } from './bash.js';
import { batchCheck } from './batch.js';
import type { Check } from './check.js';
import { concurrencyCheck } from './concurrency.js';
import { envExpansionCheck } from './env-expansion.js';
import { filesCheck } from './files.js';
import { isolationCheck } from './isolation.js';
import { portBindingCheck } from './port-binding.js';
import { resetCheck } from './reset.js';
import { statefulCheck } from './stateful.js';

/** Every check a suite can name, in the order reports list them. */
export const CHECKS: readonly Check[] = [
  portBindingCheck,
  envExpansionCheck,
  bashCheck,
  filesCheck,
  isolationCheck,
  resetCheck,
  batchCheck,
  concurrencyCheck,
  statefulCheck,
] as unknown as readonly Check[];

/** The check called `name`, or undefined. */
export function findCheck(name: string): Check | undefined {
  return CHECKS.find((check) => check.name === name);
}

/** Names of every registered check. */
export function checkNames(): string[] {
  return CHECKS.map((check) => check.name);
}
