import { logger } from '../../common/logger.js';

const log = logger('scheduler:local');

/** Something to tear down when the parent process ends. */
export interface ExitHookEntry {
  /** Synchronous last resort at `process.on('exit')`: kill what can be killed without awaiting. */
  killNow(): void;
  /** Graceful teardown on SIGINT/SIGTERM/SIGHUP, awaited before the signal is re-raised. */
  close(): Promise<void>;
}

const entries = new Set<ExitHookEntry>();
let exitInstalled = false;
let signalsInstalled = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onExit(): void {
  for (const entry of entries) {
    try {
      entry.killNow();
    } catch {
      // Exiting: nothing more can be done.
    }
  }
}

async function onSignal(signal: NodeJS.Signals): Promise<void> {
  log('%s: stopping %d scheduler(s)', signal, entries.size);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  signalsInstalled = false;
  await Promise.allSettled([...entries].map((e) => e.close()));
  // Re-raise with the default disposition unless someone else (a CLI) handles the signal.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Registers `entry` to be torn down when this process exits or gets Ctrl-C. The process hooks are
 * installed once, whatever the number of schedulers. Returns the unregister function.
 */
export function registerExitHook(entry: ExitHookEntry): () => void {
  entries.add(entry);
  if (!exitInstalled) {
    exitInstalled = true;
    process.on('exit', onExit);
  }
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  return () => entries.delete(entry);
}
