import { EventEmitter } from 'node:events';
import type { CheckResult, LegResult, RunReport } from './results.js';
import type { SuiteLeg } from './suite/load.js';

/**
 * What the matrix runner tells while it works, in order: `run:start`, then per leg `leg:start`
 * (or `leg:skip` then `leg:end`), `check:start`/`check:end` per check, `leg:end`; finally `run:end`.
 * Every event is a plain object with a `type`, so reporters can take them from one stream.
 */
export type RunEvent =
  | { type: 'run:start'; suite: { name: string; path: string }; legs: readonly SuiteLeg[] }
  | { type: 'leg:start'; leg: SuiteLeg }
  | { type: 'leg:skip'; leg: SuiteLeg; reason: string }
  | { type: 'check:start'; leg: SuiteLeg; check: string }
  | { type: 'check:end'; leg: SuiteLeg; result: CheckResult }
  | { type: 'leg:end'; leg: SuiteLeg; result: LegResult }
  | { type: 'run:end'; report: RunReport };

export type RunEventType = RunEvent['type'];

type EventMap = { [K in RunEventType]: [Extract<RunEvent, { type: K }>] } & { event: [RunEvent] };

/**
 * Typed emitter of run events. Subscribe per type (`on('check:end', ...)`) or to everything
 * (`on('event', ...)`, what a progress reporter wants).
 *
 * @example
 * const events = new RunEvents();
 * events.on('event', (event) => progress.handle(event));
 * await runSuite(suite, { events });
 */
export class RunEvents extends EventEmitter<EventMap> {
  /** Emits `event` under its type and under `event`. A throwing listener cannot break the run. */
  publish(event: RunEvent): void {
    for (const name of [event.type, 'event'] as const) {
      try {
        (this.emit as (name: string, event: RunEvent) => boolean)(name, event);
      } catch {
        // A reporter bug must not abort a run that is tearing down containers.
      }
    }
  }
}
