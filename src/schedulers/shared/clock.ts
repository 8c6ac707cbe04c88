/** Wall-clock epoch ms with sub-millisecond precision: the unit of every placement timestamp and event. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
