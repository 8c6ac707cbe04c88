import { describe, expect, it } from 'vitest';
import { Recording } from './recording.js';

describe('Recording', () => {
  it('reads from absolute offsets and keeps only the newest bytes within its cap', () => {
    const recording = new Recording(10);
    recording.append(Buffer.from('abcdef'));
    recording.append(Buffer.from('ghijkl'));
    expect(recording.end).toBe(12);
    expect(recording.start).toBe(2);
    expect(recording.read(0, 100)).toMatchObject({ from: 2, next: 12, skipped: 2 });
    expect(recording.read(0, 100).data.toString()).toBe('cdefghijkl');
    expect(recording.read(5, 3).data.toString()).toBe('fgh');
    expect(recording.read(12, 3)).toMatchObject({ from: 12, next: 12, skipped: 0 });
    recording.append(Buffer.from('0123456789ABC'));
    expect(recording.read(0, 100).data.toString()).toBe('3456789ABC');
    expect(recording.end).toBe(25);
  });

  it('never cuts a UTF-8 character in two', () => {
    const recording = new Recording(100);
    recording.append(Buffer.from('aé€😀'));
    const first = recording.read(0, 4);
    expect(first.data.toString('utf8')).toBe('aé');
    expect(recording.read(first.next, 5).data.toString('utf8')).toBe('€');
  });
});
