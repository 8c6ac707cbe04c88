/**
 * Debug logging for the bundled server, which cannot carry the `debug` package: lines go to
 * stderr when `DEBUG` names `hpc-sandbox*` or `hpc-sandbox:server*`, as `debug` would print them.
 * Off by default and then costs one boolean test per call.
 */
const enabled = /(^|,)\s*hpc-sandbox(:server)?(\*|:|,|$)/.test(process.env.DEBUG ?? '');

export type ServerLog = (message: string) => void;

/** A logger for one area of the server (`hpc-sandbox:server:<area>`). */
export function serverLog(area: string): ServerLog {
  const prefix = `hpc-sandbox:server:${area}`;
  return enabled ? (message) => process.stderr.write(`${new Date().toISOString()} ${prefix} ${message}\n`) : () => {};
}
