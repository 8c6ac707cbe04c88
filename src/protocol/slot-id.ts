/**
 * Slot ids on the wire. A server with N slots has `slot_0`..`slot_{N-1}`; the id is also the name
 * of the slot's workspace directory under the server's data dir. Everything that names a slot
 * builds the name here. This file is bundled into the server: it must import nothing.
 */

const SLOT_ID = /^slot_(0|[1-9][0-9]*)$/;

/** The wire id of the slot at `index` (0-based): `slot_3`. */
export function slotId(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`a slot index is an integer >= 0, got ${index}`);
  return `slot_${index}`;
}

/** The index of a wire slot id (`slot_3` → 3); undefined for anything else (`slot_03`, `3`, `slot_-1`). */
export function slotIndex(id: string): number | undefined {
  const match = SLOT_ID.exec(id);
  if (!match) return undefined;
  const index = Number(match[1]);
  return Number.isSafeInteger(index) ? index : undefined;
}

/** `slot_0..slot_{N-1}`, for messages about a server with `slots` slots. */
export function slotRange(slots: number): string {
  return slots > 0 ? `${slotId(0)}..${slotId(slots - 1)}` : 'no slots';
}
