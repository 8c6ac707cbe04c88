import { PassThrough } from 'node:stream';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { AbortedError, ConfigError, UnavailableError } from '../errors.js';
import { EXIT } from './exit-codes.js';
import { reportError } from './report-error.js';

function stderr() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c) => (text += c));
  return { stream, text: () => text };
}

describe('reportError', () => {
  it('prints message and code without a stack, and maps configuration errors to 2', () => {
    const err = stderr();
    const code = reportError(new ConfigError('Invalid suite s.yaml:\ns.yaml:4:11: matrix.driver[0]: unknown driver'), { stderr: err.stream }, false);
    expect(code).toBe(EXIT.usage);
    expect(err.text()).toBe('hpc-sandbox: Invalid suite s.yaml:\ns.yaml:4:11: matrix.driver[0]: unknown driver [HPCSB_CONFIG_INVALID]\n');
  });

  it('adds the stack with --verbose', () => {
    const err = stderr();
    reportError(new ConfigError('bad'), { stderr: err.stream }, true);
    expect(err.text()).toMatch(/\n\s+at /);
  });

  it('maps unavailable components to 3, aborts to 130, anything else to 1', () => {
    const quiet = { stderr: new PassThrough() };
    expect(reportError(new UnavailableError('apptainer', 'not on PATH'), quiet, false)).toBe(EXIT.requiredUnavailable);
    expect(reportError(new AbortedError('check'), quiet, false)).toBe(EXIT.interrupted);
    expect(reportError(new Error('boom'), quiet, false)).toBe(EXIT.failed);
  });

  it('leaves commander errors (already printed) to their exit code: 0 for help, 2 for usage', () => {
    const err = stderr();
    expect(reportError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), { stderr: err.stream }, false)).toBe(EXIT.pass);
    expect(reportError(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'"), { stderr: err.stream }, false)).toBe(EXIT.usage);
    expect(err.text()).toBe('');
  });
});
