import type { LegId, ReferenceVerdict, StartupMode } from '../results.js';
import { legName } from '../results.js';
import { evaluateReference, findReference, type ReferenceTable } from '../references.js';
import type { SeriesFigures } from './startup-series.js';

/** Figures always reported, with or without a reference (time to first exec and success). */
const HEADLINE: ReadonlySet<string> = new Set(['firstExec.median', 'firstExec.p95', 'firstExec.p99', 'successRate', 'overhead']);

/**
 * Reference metric names for a startup series. A cold series (sequential, staggered, burst) is
 * `startup.*`, a warm one `warm.*`; time to first exec is the bare figure (`startup.median`,
 * `startup.p99`, `startup.successRate`), the phases are prefixed (`startup.healthy.p99`,
 * `startup.placed.median`). A mode-specific name (`startup.burst.p99`) wins over the general one,
 * so a suite can allow bursts more slack than sequential starts. `startup.overhead` is the ratio
 * ours / bare of median time to first exec (no unit), which holds on any machine.
 */
function startupMetricNames(mode: StartupMode, figure: string): { specific: string; general: string } {
  const base = mode === 'warm' ? 'warm' : 'startup';
  const name = figure.startsWith('firstExec.') ? figure.slice('firstExec.'.length) : figure;
  return { specific: `${base}.${mode}.${name}`, general: `${base}.${name}` };
}

/**
 * Evaluates a series' figures against a suite's reference table (ReFrame semantics, see
 * references.ts). Every figure with a reference gets a verdict; the headline figures get a
 * `no-reference` verdict when they have none, so reports still show the measured value.
 */
export function evaluateStartupReferences(
  table: ReferenceTable,
  leg: LegId,
  mode: StartupMode,
): (figures: SeriesFigures) => ReferenceVerdict[] {
  const name = legName(leg);
  return (figures) => {
    const verdicts: ReferenceVerdict[] = [];
    for (const [figure, value] of Object.entries(figures)) {
      const { specific, general } = startupMetricNames(mode, figure);
      const specificRef = findReference(table, name, specific);
      const reference = specificRef ?? findReference(table, name, general);
      const metric = specificRef ? specific : general;
      if (reference || HEADLINE.has(figure)) verdicts.push(evaluateReference(metric, value, reference));
    }
    return verdicts;
  };
}
