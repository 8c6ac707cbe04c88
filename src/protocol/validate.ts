/**
 * Small hand validators for request bodies. The server is bundled alone and must boot fast, so it
 * does not carry zod; these check exactly the fields the server reads and return a message that
 * names the field, what was expected and what came. Imports nothing but types.
 */
import type {
  ArtifactArchiveRequest,
  ArtifactListRequest,
  ArtifactReadRequest,
  ExecuteRequest,
  ResetRequest,
} from './types.js';

/** Either the parsed value or the reason it was refused (one line, for a 400 answer). */
export type Validated<T> = { ok: true; value: T } | { ok: false; error: string };

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'string') return `\`${value.length > 40 ? value.slice(0, 40) + '…' : value}\` (string)`;
  if (typeof value === 'object') return 'object';
  return `\`${String(value)}\` (${typeof value})`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class FieldError extends Error {}

function field(where: string, name: string, expected: string, got: unknown): never {
  throw new FieldError(`Expected \`${where}${name}\` to be ${expected}, got ${describe(got)}`);
}

function requireString(body: Record<string, unknown>, name: string, where: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') field(where, name, 'a non-empty string', value);
  return value;
}

function optional<T>(body: Record<string, unknown>, name: string, where: string, check: (v: unknown) => v is T, expected: string): T | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) field(where, name, expected, value);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isPositiveNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
const isPositiveInteger = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

/**
 * Fields whose strings may hold NUL: file content is data (a NUL is a legal byte of a file), not
 * a name, a path or an argument that the kernel would cut at the NUL.
 */
const NUL_ALLOWED = new Set(['args.content']);

/**
 * The first string under `value` that holds a NUL byte, as `{ name, index }`. Node refuses NUL in
 * a path or a spawn argument by throwing, which answered 500 before this check.
 */
function findNul(value: unknown, name: string): { name: string; index: number } | undefined {
  if (typeof value === 'string') {
    const index = value.indexOf('\0');
    return index === -1 || NUL_ALLOWED.has(name) ? undefined : { name, index };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${name}[${i}]`);
      if (found) return found;
    }
  } else if (isRecord(value)) {
    for (const [key, item] of Object.entries(value)) {
      const found = findNul(item, name ? `${name}.${key}` : key);
      if (found) return found;
    }
  }
  return undefined;
}

function validated<T>(where: string, body: unknown, parse: (b: Record<string, unknown>) => T): Validated<T> {
  try {
    if (!isRecord(body)) return { ok: false, error: `Expected ${where ? `\`${where.slice(0, -1)}\`` : 'the body'} to be a JSON object, got ${describe(body)}` };
    const nul = findNul(body, '');
    if (nul) return { ok: false, error: `Expected \`${where}${nul.name}\` to hold no NUL byte, got one at character ${nul.index}` };
    return { ok: true, value: parse(body) };
  } catch (error) {
    if (error instanceof FieldError) return { ok: false, error: error.message };
    throw error;
  }
}

/**
 * Checks an execute request: `slot_id` and `tool` strings, `args` an object (default `{}`),
 * `execution_id` a string or null, `timeout` a positive number of seconds. The tool name and the
 * tool's own arguments are checked by the server, which knows the tools.
 *
 * @param where prefix for field names in messages, e.g. `[2].` inside a batch
 */
export function validateExecuteRequest(body: unknown, where = ''): Validated<ExecuteRequest> {
  return validated(where, body, (b) => {
    const args = b.args === undefined ? {} : b.args;
    if (!isRecord(args)) field(where, 'args', 'an object', args);
    const request: ExecuteRequest = {
      slot_id: requireString(b, 'slot_id', where),
      tool: requireString(b, 'tool', where),
      args,
      execution_id: optional(b, 'execution_id', where, isString, 'a string') ?? null,
    };
    const timeout = optional(b, 'timeout', where, isPositiveNumber, 'a positive number of seconds');
    if (timeout !== undefined) request.timeout = timeout;
    return request;
  });
}

export function validateResetRequest(body: unknown): Validated<ResetRequest> {
  return validated('', body, (b) => ({ slot_id: requireString(b, 'slot_id', '') }));
}

export function validateArtifactReadRequest(body: unknown): Validated<ArtifactReadRequest> {
  return validated('', body, (b) => {
    const encoding = optional(b, 'encoding', '', isString, 'a string') ?? 'text';
    if (encoding !== 'text' && encoding !== 'base64') field('', 'encoding', '`text` or `base64`', encoding);
    const request: ArtifactReadRequest = {
      slot_id: requireString(b, 'slot_id', ''),
      path: requireString(b, 'path', ''),
      encoding,
      include_sha256: optional(b, 'include_sha256', '', isBoolean, 'a boolean') ?? false,
    };
    const maxBytes = optional(b, 'max_bytes', '', isPositiveInteger, 'a positive integer');
    if (maxBytes !== undefined) request.max_bytes = maxBytes;
    return request;
  });
}

export function validateArtifactListRequest(body: unknown): Validated<ArtifactListRequest> {
  return validated('', body, (b) => {
    const request: ArtifactListRequest = {
      slot_id: requireString(b, 'slot_id', ''),
      path: optional(b, 'path', '', isString, 'a string') || '.',
      recursive: optional(b, 'recursive', '', isBoolean, 'a boolean') ?? false,
    };
    const maxEntries = optional(b, 'max_entries', '', isPositiveInteger, 'a positive integer');
    if (maxEntries !== undefined) request.max_entries = maxEntries;
    return request;
  });
}

export function validateArtifactArchiveRequest(body: unknown): Validated<ArtifactArchiveRequest> {
  return validated('', body, (b) => {
    const format = optional(b, 'format', '', isString, 'a string') ?? 'tar.gz';
    if (format !== 'tar.gz' && format !== 'tgz') field('', 'format', '`tar.gz` or `tgz`', format);
    const request: ArtifactArchiveRequest = {
      slot_id: requireString(b, 'slot_id', ''),
      path: optional(b, 'path', '', isString, 'a string') || '.',
      format: 'tar.gz',
    };
    const maxBytes = optional(b, 'max_bytes', '', isPositiveInteger, 'a positive integer');
    if (maxBytes !== undefined) request.max_bytes = maxBytes;
    const maxEntries = optional(b, 'max_entries', '', isPositiveInteger, 'a positive integer');
    if (maxEntries !== undefined) request.max_entries = maxEntries;
    return request;
  });
}
