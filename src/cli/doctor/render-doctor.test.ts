import { describe, expect, it } from 'vitest';
import { painter } from '../../harness/report/format.js';
import { renderDoctorTable } from './render-doctor.js';
import { detectionRow } from './run-doctor.js';

describe('doctor rows and table', () => {
  it('turns detections into rows', () => {
    expect(detectionRow('driver', 'docker', { available: true, version: 'Docker 20.10.24' })).toMatchObject({ status: 'ok', summary: 'Docker 20.10.24' });
    expect(detectionRow('driver', 'singularity', { available: false, reason: 'apptainer: not on PATH' })).toMatchObject({ status: 'missing', summary: 'apptainer: not on PATH' });
  });

  it('aligns columns and paints the status only when asked', () => {
    const rows = [
      { area: 'driver', name: 'process', status: 'ok' as const, summary: 'node v20' },
      { area: 'kernel', name: '/dev/fuse', status: 'warn' as const, summary: 'mode 0600' },
    ];
    const plain = renderDoctorTable(rows);
    expect(plain.split('\n')).toEqual(['AREA    COMPONENT  STATUS  FINDING', 'driver  process    ok      node v20', 'kernel  /dev/fuse  warn    mode 0600', '']);
    expect(renderDoctorTable(rows, painter(true))).toContain('\u001b[33mwarn\u001b[39m');
  });
});
