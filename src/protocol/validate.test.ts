import { describe, expect, it } from 'vitest';
import { validateArtifactListRequest, validateArtifactReadRequest, validateExecuteRequest } from './validate.js';

describe('request validators', () => {
  it('accepts an Atropos execute request and defaults args', () => {
    expect(validateExecuteRequest({ slot_id: 'slot_0', tool: 'bash', args: { command: 'ls' }, execution_id: 'e', timeout: 2.5 })).toEqual({
      ok: true,
      value: { slot_id: 'slot_0', tool: 'bash', args: { command: 'ls' }, execution_id: 'e', timeout: 2.5 },
    });
    expect(validateExecuteRequest({ slot_id: 'slot_0', tool: 'bash' })).toMatchObject({ ok: true, value: { args: {}, execution_id: null } });
  });

  it.each([
    [[], 'Expected the body to be a JSON object, got array'],
    [{ tool: 'bash' }, 'Expected `slot_id` to be a non-empty string, got nothing'],
    [{ slot_id: 'slot_0', tool: 3 }, 'Expected `tool` to be a non-empty string, got `3` (number)'],
    [{ slot_id: 'slot_0', tool: 'bash', timeout: '5' }, 'Expected `timeout` to be a positive number of seconds, got `5` (string)'],
    [{ slot_id: 'slot_0', tool: 'bash', execution_id: 7 }, 'Expected `execution_id` to be a string, got `7` (number)'],
  ])('refuses %j', (body, error) => {
    expect(validateExecuteRequest(body)).toEqual({ ok: false, error });
  });

  it('names the batch item', () => {
    expect(validateExecuteRequest({ tool: 'bash' }, '[3].')).toMatchObject({ ok: false, error: expect.stringContaining('`[3].slot_id`') });
  });

  it('refuses a NUL byte in any string field, naming it, and keeps it in file content', () => {
    expect(validateExecuteRequest({ slot_id: 'slot_0', tool: 'bash', args: { command: 'echo a\0b' } })).toEqual({
      ok: false,
      error: 'Expected `args.command` to hold no NUL byte, got one at character 6',
    });
    expect(validateExecuteRequest({ slot_id: 'slot_0', tool: 'read_file', args: { path: ['x', 'y\0'] } }, '[1].')).toEqual({
      ok: false,
      error: 'Expected `[1].args.path[1]` to hold no NUL byte, got one at character 1',
    });
    expect(validateExecuteRequest({ slot_id: 'slot\0', tool: 'bash' })).toMatchObject({ ok: false, error: expect.stringContaining('`slot_id`') });
    expect(validateArtifactReadRequest({ slot_id: 's', path: 'a\0' })).toMatchObject({ ok: false, error: expect.stringContaining('`path` to hold no NUL') });
    expect(validateExecuteRequest({ slot_id: 'slot_0', tool: 'write_file', args: { path: 'f', content: 'a\0b' } })).toMatchObject({ ok: true });
  });

  it('checks artifact requests', () => {
    expect(validateArtifactReadRequest({ slot_id: 's', path: 'p' })).toEqual({ ok: true, value: { slot_id: 's', path: 'p', encoding: 'text', include_sha256: false } });
    expect(validateArtifactReadRequest({ slot_id: 's', path: 'p', max_bytes: 0 })).toMatchObject({ ok: false, error: expect.stringContaining('`max_bytes`') });
    expect(validateArtifactListRequest({ slot_id: 's' })).toEqual({ ok: true, value: { slot_id: 's', path: '.', recursive: false } });
  });
});
