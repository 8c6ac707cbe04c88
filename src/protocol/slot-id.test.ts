import { describe, expect, it } from 'vitest';
import { slotId, slotIndex, slotRange } from './slot-id.js';

describe('slot ids', () => {
  it('names slot N slot_N and reads the name back', () => {
    expect(slotId(0)).toBe('slot_0');
    expect(slotId(12)).toBe('slot_12');
    for (const index of [0, 1, 9, 10, 4095]) expect(slotIndex(slotId(index))).toBe(index);
  });

  it('refuses indexes that are not slots', () => {
    expect(() => slotId(-1)).toThrow(RangeError);
    expect(() => slotId(1.5)).toThrow('a slot index is an integer >= 0, got 1.5');
  });

  it('reads only canonical ids, so two spellings never name one workspace', () => {
    for (const id of ['slot_03', 'slot_', '3', 'slot_-1', 'slot_1 ', 'Slot_1', 'slot_1/..', `slot_${'9'.repeat(20)}`]) expect(slotIndex(id), id).toBeUndefined();
  });

  it('describes the range of a server', () => {
    expect(slotRange(4)).toBe('slot_0..slot_3');
    expect(slotRange(1)).toBe('slot_0..slot_0');
    expect(slotRange(0)).toBe('no slots');
  });
});
