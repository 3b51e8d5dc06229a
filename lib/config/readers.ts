/**
 * Readers of one environment variable each: the parsed value, or a ConfigError naming the variable and
 * what would be accepted. The declarations (declare.ts) are built on them; the simulator and the local
 * runtime, which read a handful of variables beside command-line flags, use them directly.
 */
import { ConfigError } from '../errors';
import { type DurationUnit, formatDuration, parseDuration } from './duration';

export type Env = Readonly<Record<string, string | undefined>>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

export function str(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function optionalStr(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export interface Range {
  min?: number;
  max?: number;
}

export function int(env: Env, name: string, fallback: number, range: Range = {}): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer, got "${v}"`);
  const n = Number(v);
  if (range.min !== undefined && n < range.min)
    throw new ConfigError(name, `must be >= ${range.min}, got ${n}`);
  if (range.max !== undefined && n > range.max)
    throw new ConfigError(name, `must be <= ${range.max}, got ${n}`);
  return n;
}

export function bool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const l = v.toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(l)) return true;
  if (['0', 'false', 'no', 'off'].includes(l)) return false;
  throw new ConfigError(name, `expected true/false (or 1/0, yes/no, on/off), got "${v}"`);
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  const l = v.toLowerCase();
  const found = allowed.find((a) => a === l);
  if (found === undefined) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${v}"`);
  return found;
}

export interface DurationRange {
  /** Bounds in milliseconds. */
  minMs?: number;
  maxMs?: number;
  /** What a bare number means (milliseconds unless said). */
  bareUnit?: DurationUnit;
}

/** A duration in milliseconds (duration.ts has the convention). */
export function duration(env: Env, name: string, fallbackMs: number, range: DurationRange = {}): number {
  const v = raw(env, name);
  if (v === undefined) return fallbackMs;
  const ms = parseDuration(v, range.bareUnit);
  if (ms === undefined)
    throw new ConfigError(
      name,
      `expected a duration such as 72h, 15m, 30s or 250ms (a bare number is in ${range.bareUnit ?? 'ms'}), got "${v}"`,
    );
  if (range.minMs !== undefined && ms < range.minMs)
    throw new ConfigError(name, `must be at least ${formatDuration(range.minMs)}, got ${formatDuration(ms)}`);
  if (range.maxMs !== undefined && ms > range.maxMs)
    throw new ConfigError(name, `must be at most ${formatDuration(range.maxMs)}, got ${formatDuration(ms)}`);
  return ms;
}

export function list(env: Env, name: string, fallback: readonly string[]): string[] {
  const v = raw(env, name);
  if (v === undefined) return [...fallback];
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0)
    throw new ConfigError(name, 'expected a comma-separated list with at least one item');
  return items;
}

export function url(env: Env, name: string, fallback: string): string {
  const v = raw(env, name) ?? fallback;
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    // Never echo the value: a URL may carry credentials (user:password@host) or an API key in its query.
    throw new ConfigError(name, `expected an http(s) URL (${v.length} characters given; value not shown)`);
  }
  return v.replace(/\/+$/, '');
}

/** Recursively freezes a config object so no module can change it after start-up. */
export function deepFreeze<T>(obj: T): Readonly<T> {
  if (obj && typeof obj === 'object' && !Object.isFrozen(obj)) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
