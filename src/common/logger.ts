import createDebug from 'debug';

/**
 * Debug logging through `debug` namespaces: zero cost when off, `DEBUG=hpc-sandbox*` turns it on.
 * Library code never writes to the console; the CLI owns the terminal.
 *
 * @example
 * const log = logger('scheduler:local');
 * log('placed %s on port %d', id, port);
 */
export function logger(namespace: string): createDebug.Debugger {
  return createDebug(`hpc-sandbox:${namespace}`);
}
