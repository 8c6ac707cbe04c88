import type { Reference, ReferenceVerdict } from './results.js';

/** Leg key that applies to every leg without its own entry (ReFrame's `*`). */
export const ANY_LEG = '*';

/** References of a suite: leg name (`local x docker`) or `*` -> metric name (`startup.median`) -> reference. */
export type ReferenceTable = Readonly<Record<string, Readonly<Record<string, Reference>>>>;

/**
 * The bounds a reference accepts, as ReFrame computes them: `target*(1+lower)` ..
 * `target*(1+upper)`, tolerances taken relative to |target| (so `(-100, -0.01, 0.02)` accepts
 * -101..-98), or `lower`..`upper` as absolute bounds when the target is 0. A null tolerance is
 * unbounded on that side.
 */
export function referenceBounds(reference: Reference): { low: number; high: number } {
  const { value, lower, upper } = reference;
  const bound = (tolerance: number): number => (value === 0 ? tolerance : value + Math.abs(value) * tolerance);
  return {
    low: lower === null ? -Infinity : bound(lower),
    high: upper === null ? Infinity : bound(upper),
  };
}

/**
 * Judges one measured value against its reference with ReFrame semantics: within iff
 * `target*(1+lower) <= value <= target*(1+upper)`. Without a reference the value is only recorded
 * (`no-reference`). The failure message is ReFrame's: `<val> is beyond reference value <ref> (l=<lo>, u=<hi>)`.
 *
 * @example
 * evaluateReference('startup.median', 130, { value: 100, lower: null, upper: 0.2, unit: 'ms' })
 * // { state: 'beyond', message: '130 is beyond reference value 100 (l=-inf, u=120)', ... }
 */
export function evaluateReference(metric: string, value: number, reference: Reference | undefined): ReferenceVerdict {
  if (!reference) {
    return { metric, value, state: 'no-reference', message: `${metric} = ${formatNumber(value)} (no reference)` };
  }
  const { low, high } = referenceBounds(reference);
  const within = Number.isFinite(value) && low <= value && value <= high;
  const message = within
    ? `${metric} = ${formatNumber(value)} ${reference.unit} is within reference value ${formatNumber(reference.value)} (l=${formatNumber(low)}, u=${formatNumber(high)})`
    : `${formatNumber(value)} is beyond reference value ${formatNumber(reference.value)} (l=${formatNumber(low)}, u=${formatNumber(high)})`;
  return { metric, value, reference, state: within ? 'within' : 'beyond', message };
}

/** The reference for `metric` on the leg named `legName`: the leg's own entry, else the `*` entry. */
export function findReference(table: ReferenceTable, legName: string, metric: string): Reference | undefined {
  return table[legName]?.[metric] ?? table[ANY_LEG]?.[metric];
}

function formatNumber(value: number): string {
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  return String(Number.isInteger(value) ? value : Number(value.toPrecision(6)));
}

/** System key whose references apply on every system. */
export const ANY_SYSTEM = '*';

/**
 * The reference table that applies on `system`: the suite's `references` (every system), then the
 * `*` system's and `system`'s own absolute references on top, most specific last. A system's `*`
 * entry beats a general leg entry, because absolute figures only mean something where they
 * were measured. Without a system name only `references` and the `*` system apply.
 *
 * @example referencesFor(suite.references, suite.systemReferences, 'ci-2core')
 */
export function referencesFor(
  general: ReferenceTable,
  bySystem: Readonly<Record<string, ReferenceTable>>,
  system: string | undefined,
): ReferenceTable {
  const layers = [bySystem[ANY_SYSTEM], system !== undefined && system !== ANY_SYSTEM ? bySystem[system] : undefined].filter(
    (t): t is ReferenceTable => t !== undefined,
  );
  const legs = new Set([...Object.keys(general), ...layers.flatMap((t) => Object.keys(t))]);
  const merged: Record<string, Record<string, Reference>> = {};
  for (const leg of legs) {
    merged[leg] = { ...general[leg] };
    for (const layer of layers) {
      if (leg !== ANY_LEG) Object.assign(merged[leg], layer[ANY_LEG]);
      Object.assign(merged[leg], layer[leg]);
    }
  }
  return merged;
}
