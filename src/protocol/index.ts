/**
 * The sandbox server's wire protocol: types, constants, request validators (zod-free, used by
 * the server) and response schemas (zod, used by the client). The server imports the files it
 * needs directly, never this index, so zod stays out of its bundle.
 */
export { DEFAULT_LIMITS, DEFAULT_TIMEOUT_SECONDS, ENV, READY_FILE, SERVER_VERSION, STATEFUL_TOOLS, TOOLS } from './constants.js';
export { slotId, slotIndex, slotRange } from './slot-id.js';
export type {
  ArtifactArchiveRequest,
  ArtifactArchiveResponse,
  ArtifactEntry,
  ArtifactListRequest,
  ArtifactListResponse,
  ArtifactReadRequest,
  ArtifactReadResponse,
  BashArgs,
  BashStatefulArgs,
  ErrorResponse,
  ExecuteMetadata,
  ExecuteRequest,
  ExecuteResponse,
  HealthResponse,
  IsolationMode,
  IsolationReport,
  ReadFileArgs,
  ReadyFileContent,
  ResetRequest,
  ServerLimits,
  SlotStatus,
  SlotsResponse,
  TmuxArgs,
  ToolName,
  WriteFileArgs,
} from './types.js';
export {
  validateArtifactArchiveRequest,
  validateArtifactListRequest,
  validateArtifactReadRequest,
  validateExecuteRequest,
  validateResetRequest,
  type Validated,
} from './validate.js';
export {
  ArtifactArchiveResponseSchema,
  ArtifactListResponseSchema,
  ArtifactReadResponseSchema,
  ExecuteResponseSchema,
  HealthResponseSchema,
  IsolationReportSchema,
  ReadyFileSchema,
  SlotsResponseSchema,
} from './schemas.js';
