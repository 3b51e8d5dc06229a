/**
 * A deep copy for JSON-shaped values (plain objects, arrays, primitives) — the only shapes world
 * objects have. Several times faster than structuredClone, which dominated generation time.
 */
export function cloneJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = cloneJson(value[i]);
    return out as T;
  }
  const out: Record<string, unknown> = {};
  for (const key in value as Record<string, unknown>)
    out[key] = cloneJson((value as Record<string, unknown>)[key]);
  return out as T;
}
