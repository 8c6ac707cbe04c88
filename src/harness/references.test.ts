import { describe, expect, it } from 'vitest';
import { evaluateReference, findReference, referenceBounds, referencesFor } from './references.js';

const ref = (value: number, lower: number | null, upper: number | null) => ({ value, lower, upper, unit: 'ms' });

describe('referenceBounds (ReFrame table)', () => {
  it.each([
    [ref(100, -0.01, 0.02), 99, 102],
    [ref(-100, -0.01, 0.02), -101, -98],
    [ref(0, -2, 5), -2, 5],
    [ref(100, null, 0.5), -Infinity, 150],
    [ref(100, -0.5, null), 50, Infinity],
  ])('%o accepts %d..%d', (reference, low, high) => {
    const bounds = referenceBounds(reference);
    expect(bounds.low).toBeCloseTo(low, 9);
    expect(bounds.high).toBeCloseTo(high, 9);
  });
});

describe('evaluateReference', () => {
  it('passes on the bounds themselves and fails just outside', () => {
    const reference = ref(200, -0.5, 1);
    expect(evaluateReference('startup.median', 100, reference).state).toBe('within');
    expect(evaluateReference('startup.median', 400, reference).state).toBe('within');
    expect(evaluateReference('startup.median', 99.9, reference).state).toBe('beyond');
    expect(evaluateReference('startup.median', 400.1, reference).state).toBe('beyond');
  });

  it("words a failure as ReFrame does", () => {
    const verdict = evaluateReference('startup.p95', 130, ref(100, null, 0.2));
    expect(verdict).toMatchObject({ metric: 'startup.p95', value: 130, state: 'beyond' });
    expect(verdict.message).toBe('130 is beyond reference value 100 (l=-inf, u=120)');
  });

  it('uses absolute bounds for a zero target', () => {
    expect(evaluateReference('errors', 3, ref(0, -2, 5)).state).toBe('within');
    expect(evaluateReference('errors', 6, ref(0, -2, 5)).message).toBe('6 is beyond reference value 0 (l=-2, u=5)');
  });

  it('records a value without a reference instead of judging it', () => {
    expect(evaluateReference('startup.median', 12.5, undefined)).toEqual({
      metric: 'startup.median',
      value: 12.5,
      state: 'no-reference',
      message: 'startup.median = 12.5 (no reference)',
    });
  });

  it('treats NaN as beyond any reference', () => {
    expect(evaluateReference('startup.median', Number.NaN, ref(100, null, null)).state).toBe('beyond');
  });
});

describe('findReference', () => {
  const table = {
    '*': { 'startup.median': ref(1000, null, 1) },
    'local x docker': { 'startup.median': ref(2000, null, 1) },
  };
  it("prefers the leg's own entry over '*'", () => {
    expect(findReference(table, 'local x docker', 'startup.median')?.value).toBe(2000);
    expect(findReference(table, 'local x process', 'startup.median')?.value).toBe(1000);
    expect(findReference(table, 'local x process', 'startup.p99')).toBeUndefined();
  });
});

describe('referencesFor', () => {
  const ms = (value: number) => ({ value, lower: null, upper: 0.5, unit: 'ms' });
  const ratio = { value: 1.15, lower: null, upper: 0, unit: 'ratio' };
  const general = { '*': { 'startup.overhead': ratio, 'startup.median': ms(10_000) } };
  const bySystem = {
    'ci-2core': { 'local x docker': { 'startup.median': ms(280) }, '*': { 'startup.p95': ms(2_000) } },
    'laptop': { 'local x docker': { 'startup.median': ms(150) } },
  };

  it('applies a system\'s absolute references only on that system', () => {
    const ci = referencesFor(general, bySystem, 'ci-2core');
    expect(findReference(ci, 'local x docker', 'startup.median')?.value).toBe(280);
    expect(findReference(ci, 'local x process', 'startup.p95')?.value).toBe(2_000);
    expect(findReference(ci, 'local x process', 'startup.overhead')).toEqual(ratio);
    const elsewhere = referencesFor(general, bySystem, 'other-machine');
    expect(findReference(elsewhere, 'local x docker', 'startup.median')?.value).toBe(10_000);
    expect(findReference(elsewhere, 'local x process', 'startup.p95')).toBeUndefined();
    expect(findReference(referencesFor(general, bySystem, undefined), 'local x docker', 'startup.median')?.value).toBe(10_000);
  });

  it("lets the '*' system's references apply everywhere, and a system's '*' beat a general leg entry", () => {
    const table = referencesFor({ 'local x docker': { 'startup.median': ms(99) } }, { '*': { '*': { 'startup.median': ms(5_000) } } }, undefined);
    expect(findReference(table, 'local x docker', 'startup.median')?.value).toBe(5_000);
  });
});
