/**
 * One line of `hpc-sandbox doctor`: what was probed, whether it is usable, and the evidence.
 * `warn` means usable with a weakness the operator should know (e.g. /dev/fuse not 0666 only
 * blocks unprivileged SquashFS mounts).
 */
export interface DoctorRow {
  /** Group: `driver`, `kernel`, `isolation`, `scheduler`, `engine`. */
  area: string;
  /** What was probed: `docker`, `user namespaces`, `/dev/fuse`... */
  name: string;
  status: 'ok' | 'warn' | 'missing';
  /** The finding in a few words: a version, a mode, a value. */
  summary: string;
  /** How it was probed and what was seen, for the curious and for bug reports. */
  details?: Record<string, string>;
}
