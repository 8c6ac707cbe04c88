import { type Painter, painter, renderColumns } from '../../harness/report/format.js';
import type { DoctorRow } from './doctor-row.js';

/** The doctor table for a terminal: one row per probe, the status painted when colours are on. */
export function renderDoctorTable(rows: readonly DoctorRow[], paint: Painter = painter(false)): string {
  const status = (s: DoctorRow['status']) => (s === 'ok' ? paint.green('ok') : s === 'warn' ? paint.yellow('warn') : paint.red('missing'));
  return renderColumns([['AREA', 'COMPONENT', 'STATUS', 'FINDING'], ...rows.map((r) => [r.area, r.name, status(r.status), r.summary])]) + '\n';
}
