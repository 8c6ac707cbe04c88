import { describe, expect, it } from 'vitest';
import { RunEvents, type RunEvent } from './events.js';

describe('RunEvents', () => {
  const leg = { scheduler: 'local' as const, driver: 'process' as const, name: 'local x process' };

  it('delivers each event under its type and under "event"', () => {
    const events = new RunEvents();
    const typed: string[] = [];
    const all: RunEvent[] = [];
    events.on('leg:skip', (event) => typed.push(event.reason));
    events.on('event', (event) => all.push(event));
    events.publish({ type: 'leg:start', leg });
    events.publish({ type: 'leg:skip', leg, reason: 'docker: not on PATH' });
    expect(typed).toEqual(['docker: not on PATH']);
    expect(all.map((e) => e.type)).toEqual(['leg:start', 'leg:skip']);
  });

  it('keeps publishing when a listener throws', () => {
    const events = new RunEvents();
    const seen: string[] = [];
    events.on('leg:start', () => {
      throw new Error('reporter bug');
    });
    events.on('event', (event) => seen.push(event.type));
    expect(() => events.publish({ type: 'leg:start', leg })).not.toThrow();
    expect(seen).toEqual(['leg:start']);
  });
});
