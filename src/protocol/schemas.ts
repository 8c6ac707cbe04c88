import { z } from 'zod';

/**
 * zod schemas of the server's answers, for the client (the server itself carries no zod: see
 * validate.ts). Objects are loose: unknown fields pass through, so a newer server's additive
 * fields never break an older client.
 */
export const ExecuteResponseSchema = z.looseObject({
  success: z.boolean(),
  output: z.string().default(''),
  error: z.string().default(''),
  execution_id: z.string().nullable().default(null),
  metadata: z.looseObject({}).default({}),
});

export const IsolationReportSchema = z.looseObject({
  mode: z.enum(['auto', 'require', 'off']),
  active: z.boolean(),
  proc_mode: z.enum(['proc', 'bind']).nullable(),
  user_namespace: z.boolean().nullable(),
  bwrap_path: z.string().nullable(),
  reason: z.string().nullable(),
  probe_ms: z.number().nullable(),
  shell: z.string(),
});

/** `/health`: Atropos fields required, additive ones optional (an Atropos server lacks them). */
export const HealthResponseSchema = z.looseObject({
  status: z.string(),
  slots: z.number().int(),
  available: z.number().int(),
  executing: z.number().int(),
  data_dir: z.string(),
  bwrap_available: z.boolean(),
  port: z.number().int().optional(),
  host: z.string().optional(),
  pid: z.number().int().optional(),
  version: z.string().optional(),
  isolation: IsolationReportSchema.optional(),
});

export const SlotsResponseSchema = z.looseObject({
  slots: z.array(
    z.looseObject({
      slot_id: z.string(),
      state: z.string(),
      workspace_dir: z.string(),
      current_execution_id: z.string().nullable(),
    }),
  ),
});

export const ArtifactReadResponseSchema = z.looseObject({
  success: z.literal(true),
  content: z.string(),
  encoding: z.enum(['text', 'base64']),
  truncated: z.boolean(),
  bytes: z.number().int(),
  file_size: z.number().int(),
  path: z.string(),
  mime: z.string(),
  sha256: z.string().nullable(),
});

export const ArtifactListResponseSchema = z.looseObject({
  success: z.literal(true),
  entries: z.array(z.looseObject({ path: z.string(), is_dir: z.boolean(), size: z.number(), mtime: z.number() })),
  truncated: z.boolean(),
});

export const ArtifactArchiveResponseSchema = z.looseObject({
  success: z.literal(true),
  content: z.string(),
  encoding: z.literal('base64'),
  format: z.literal('tar.gz'),
  bytes: z.number().int(),
  entry_count: z.number().int(),
});

export const ReadyFileSchema = z.looseObject({
  port: z.number().int().min(1).max(65_535),
  host: z.string(),
  pid: z.number().int(),
  version: z.string(),
});
