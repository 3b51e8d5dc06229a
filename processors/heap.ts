/**
 * How far V8 lets the processor's heap grow before a full collection (PROCESSOR_HEAP_GROWING_PERCENT).
 *
 * Why: after each full collection V8 sets the next one's trigger at a factor times what survived it, and
 * under a heap limit of 2 GB or more (Node's default here: 4,144 MB on the 24 GB build machine) V8's heap
 * controller lets that factor go up to 4 while the processor allocates fast (V8's rule, not measured
 * directly; the RSS figures below are). A processor draining a backlog allocates fast: its heap then held
 * three to four times its live data, and that garbage, not the state, set its RSS (a 2,000,000 drain
 * peaked at 610–682 MB and stood at 470–565 MB three seconds after it, depending on when V8 had last
 * collected). A fixed factor of 2 bounds that: 494–523 MB peak and 416–436 MB after, for about 10 % of the
 * drain's speed (docs/benchmarks.md, "Rounds, not the store").
 *
 * Capping the heap (`--max-old-space-size`) is not the same lever: a limit under 2 GB also lowers the
 * factor V8 picks, and near the limit V8 collects over and over (docs/operations.md, "Processor memory").
 *
 * The flag is set at run time because `--heap-growing-percent` is not allowed in NODE_OPTIONS, and every
 * way the processor starts (the image, `npm start`, the chart, the benchmarks) goes through
 * `nylas-stream processor`. V8 reads it each time it computes the next trigger, so setting it before the
 * processor allocates its working set is enough. It is process-wide: only the CLI command sets it, never
 * startProcessor (the tests run processors inside jest's process).
 */
import { setFlagsFromString } from 'node:v8';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own. Returns the flag set, if any. */
export function applyHeapGrowing(
  percent: number,
  setFlags: (flag: string) => void = setFlagsFromString,
): string | undefined {
  if (percent <= 0) return undefined;
  const flag = `--heap-growing-percent=${Math.floor(percent)}`;
  setFlags(flag);
  return flag;
}
