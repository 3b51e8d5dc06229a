/**
 * Lenient readers for parsed JSON (notification payloads, API responses, changelog records): a value of
 * the wrong type or an absent one becomes null, never an exception. Nylas omits fields freely (field
 * customization, metadata-only scopes, provider differences, `null` arrays on contacts), so the stages
 * that read its payloads must not trust a field's type; keeping the readers in one place keeps that
 * leniency the same everywhere.
 */

/** A JSON object as `JSON.parse` gives it: field types are not known until read. */
export type Obj = Record<string, unknown>;

/** A plain object; arrays and null are not (`typeof` says "object" for both). */
export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Obj | null {
  return isObj(v) ? v : null;
}

/** A string with at least one character, else undefined (ids, types and grant keys: "" names nothing). */
export function nonEmptyText(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** Strings as-is; finite numbers as decimal text (some ids arrive as numbers). */
export function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

export function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** Integers, also from numeric strings ("0" for link_index); null when not a safe integer. */
export function long(v: unknown): number | null {
  const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  const t = Math.trunc(n);
  return Number.isSafeInteger(t) ? t : null;
}

/** Nylas timestamps are Unix seconds (numbers, or strings on scheduler metadata) → epoch ms. */
export function secondsToMs(v: unknown): number | null {
  const s = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) return null;
  const ms = Math.round(s * 1000);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** An RFC 2822 / ISO date text → epoch ms, null when unparseable. */
export function dateTextToMs(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

/** The string entries of an array (numbers as text, see str); other entries are dropped. */
export function strArray(v: unknown): string[] | null {
  if (!Array.isArray(v)) return null;
  return v.map(str).filter((s): s is string => s !== null);
}

/** The object entries of an array mapped by `map`; other entries, and those `map` rejects, are dropped. */
export function objArray<T>(v: unknown, map: (o: Obj) => T | null): T[] | null {
  if (!Array.isArray(v)) return null;
  return v.map((e) => (isObj(e) ? map(e) : null)).filter((e): e is T => e !== null);
}

/** Any present value as JSON text, for fields that have no typed model. */
export function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

/** Key-value metadata; non-string values (numbers, nested objects) are kept as JSON text. */
export function metadata(v: unknown): Record<string, string> | null {
  if (!isObj(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined || val === null) continue;
    out[k] = typeof val === 'string' ? val : JSON.stringify(val);
  }
  return out;
}

/** `value` upper-cased when it is one of `symbols`, else UNKNOWN; null when absent. */
export function enumOf<T extends string>(v: unknown, symbols: readonly T[]): T | 'UNKNOWN' | null {
  if (typeof v !== 'string' || v === '') return null;
  const u = v.toUpperCase().replace(/[\s-]+/g, '_');
  return symbols.find((s) => s === u) ?? 'UNKNOWN';
}
