import type { LegId, ReferenceVerdict, StartupMode } from '../results.js';
import { legName } from '../results.js';
import { evaluateReference, findReference, referenceBounds, type ReferenceTable } from '../references.js';
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
      if (figure === 'overhead.low' || figure === 'overhead.high') continue; // the interval of `overhead`, judged with it
      const { specific, general } = startupMetricNames(mode, figure);
      const specificRef = findReference(table, name, specific);
      const reference = specificRef ?? findReference(table, name, general);
      const metric = specificRef ? specific : general;
      if (!reference && !HEADLINE.has(figure)) continue;
      const verdict = evaluateReference(metric, value, reference);
      if (figure === 'overhead' && reference) verdicts.push(judgeWithInterval(verdict, figures['overhead.low'], figures['overhead.high']));
      else verdicts.push(verdict);
    }
    return verdicts;
  };
}

/**
 * The overhead ratio is judged with its bootstrap interval: it is beyond its reference only when
 * the whole 95% interval is, so a noisy run on a busy machine is not failed by chance while a
 * real slowdown (the interval moved past the bound) is.
 */
function judgeWithInterval(verdict: ReferenceVerdict, low: number | undefined, high: number | undefined): ReferenceVerdict {
  if (verdict.state !== 'beyond' || !verdict.reference || low === undefined || high === undefined) return verdict;
  const bounds = referenceBounds(verdict.reference);
  const interval = `[${low.toFixed(2)}-${high.toFixed(2)}]`;
  if (low <= bounds.high && high >= bounds.low) {
    return { ...verdict, state: 'within', message: `${verdict.metric} = ${verdict.value.toFixed(2)} is above its bound, but its 95% interval ${interval} reaches inside it (noise): within` };
  }
  return { ...verdict, message: `${verdict.message}; 95% interval ${interval} entirely beyond` };
}
