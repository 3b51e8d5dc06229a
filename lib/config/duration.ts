/**
 * The one duration convention of every variable: a number with a unit suffix (ms, s, m, h, d), or a
 * bare number in the variable's own unit — milliseconds for `*_MS` variables and the `72h`-style ones
 * (what a bare number always meant there), seconds for `*_SECONDS`. The variable names stay as they are:
 * renaming them would break every deployment that sets them.
 */

export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

export const DURATION_UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

function isDurationUnit(u: string): u is DurationUnit {
  return Object.hasOwn(DURATION_UNIT_MS, u);
}

/**
 * Parses "72h", "15m", "30s", "250ms", "1d" or a bare number (in `bareUnit`, milliseconds unless said)
 * into milliseconds, rounded to a whole millisecond; undefined when the text is not a duration.
 */
export function parseDuration(value: string, bareUnit: DurationUnit = 'ms'): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  if (!m?.[1]) return undefined;
  const unit = (m[2] ?? '').toLowerCase() || bareUnit;
  if (!isDurationUnit(unit)) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNIT_MS[unit]);
}

/** The shortest exact spelling of a duration in milliseconds: 3600000 → "1h", 1500 → "1500ms". Days are
 * left out: the windows are thought of in hours (96h, 72h of Nylas backfill), not as 4d and 3d. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  const units: readonly DurationUnit[] = ['h', 'm', 's'];
  for (const u of units) {
    if (ms % DURATION_UNIT_MS[u] === 0) return `${ms / DURATION_UNIT_MS[u]}${u}`;
  }
  return `${ms}ms`;
}
