/**
 * Configuration declared once, as data: each variable's name, type and unit, default, accepted range,
 * description and the services that read it. The loaders (lib/config.ts, ingress/config.ts,
 * processors/config.ts, cli/ops/webhooks.ts) read values only through these declarations; the generated
 * reference (docs/configuration.md) and the start-up warnings about unknown variables are derived from
 * the same objects, so the three cannot drift apart.
 *
 * Rules between variables (ACCEPT_WINDOW shorter than DEDUPE_WINDOW, a SASL mechanism needs a user) stay
 * in the loaders, next to the reason for them.
 */
import { ConfigError } from '../errors';
import { type DurationUnit, formatDuration } from './duration';
import { bool, duration, type Env, int, list, oneOf, optionalStr, url } from './readers';

/** The programs that read a variable (the CLI's ops commands read the shared section too; the test
 * suite reads the local runtime's). */
export type Reader = 'ingress' | 'processor' | 'cli' | 'simulator' | 'tests';

export type VariableKind =
  | 'integer'
  | 'duration'
  | 'string'
  | 'secret'
  | 'boolean'
  | 'choice'
  | 'list'
  | 'url';

/** What the reference shows of a variable. */
export interface Declaration {
  readonly name: string;
  readonly kind: VariableKind;
  readonly description: string;
  readonly readBy: readonly Reader[];
  /** The default as the reference prints it ("—" when there is none). */
  readonly defaultText: string;
  /** Unit and accepted values, as the reference prints them. */
  readonly accepts: string;
}

export interface Variable<T> extends Declaration {
  /** The typed value, or ConfigError naming the variable. */
  read(env: Env): T;
}

/** A group of variables as the reference shows it (one per service, plus the shared one). */
export interface ConfigSection {
  readonly title: string;
  readonly intro: string;
  /** Name prefixes this section owns outright: a variable with one that is not declared here is
   * reported at start-up (unknown.ts). */
  readonly prefixes: readonly string[];
  readonly variables: readonly Declaration[];
}

interface Described {
  description: string;
  readBy: readonly Reader[];
  /** Overrides the printed default (one computed from other variables). */
  defaultText?: string;
}

const NONE = '—';

function bytesNote(n: number): string {
  const units: readonly [number, string][] = [
    [1024 * 1024 * 1024, 'GiB'],
    [1024 * 1024, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [size, unit] of units) if (n >= size && n % size === 0) return ` (${n / size} ${unit})`;
  return '';
}

function rangeText(min: number | undefined, max: number | undefined, show: (n: number) => string): string {
  if (min !== undefined && max !== undefined) return `${show(min)} … ${show(max)}`;
  if (min !== undefined) return `≥ ${show(min)}`;
  if (max !== undefined) return `≤ ${show(max)}`;
  return '';
}

function joined(...parts: string[]): string {
  return parts.filter((p) => p !== '').join(', ');
}

function declared(
  name: string,
  kind: VariableKind,
  spec: Described,
  defaultText: string,
  accepts: string,
): Declaration {
  return {
    name,
    kind,
    description: spec.description,
    readBy: spec.readBy,
    defaultText: spec.defaultText ?? defaultText,
    accepts,
  };
}

export function integer<D extends number | undefined>(
  name: string,
  spec: Described & { default: D; min?: number; max?: number; unit?: string },
): Variable<number | D> {
  const show = (n: number) => (spec.unit === 'bytes' ? `${n}${bytesNote(n)}` : String(n));
  return {
    ...declared(
      name,
      'integer',
      spec,
      spec.default === undefined
        ? NONE
        : `\`${spec.default}\`${spec.unit === 'bytes' ? bytesNote(spec.default) : ''}`,
      joined(`integer${spec.unit ? ` (${spec.unit})` : ''}`, rangeText(spec.min, spec.max, show)),
    ),
    read: (env) => (optionalStr(env, name) === undefined ? spec.default : int(env, name, 0, spec)),
  };
}

/**
 * A duration (duration.ts): `unit` is what a bare number means and what the value is expressed in —
 * milliseconds unless said; default, min and max are in it too.
 */
export function durationVariable<D extends number | undefined>(
  name: string,
  spec: Described & { default: D; min?: number; max?: number; unit?: 'ms' | 's' },
): Variable<number | D> {
  const unit: DurationUnit = spec.unit ?? 'ms';
  const scale = unit === 's' ? 1000 : 1;
  const ms = (n: number | undefined) => (n === undefined ? undefined : n * scale);
  const show = (n: number) => formatDuration(n * scale);
  return {
    ...declared(
      name,
      'duration',
      spec,
      spec.default === undefined ? NONE : `\`${show(spec.default)}\``,
      joined(`duration (bare number: ${unit})`, rangeText(spec.min, spec.max, show)),
    ),
    read: (env) => {
      if (optionalStr(env, name) === undefined) return spec.default;
      const value = duration(env, name, 0, { minMs: ms(spec.min), maxMs: ms(spec.max), bareUnit: unit });
      if (value % scale !== 0)
        throw new ConfigError(name, `must be a whole number of seconds, got ${formatDuration(value)}`);
      return value / scale;
    },
  };
}

/** Free text; `check` returns why a value is refused (the message names the variable). */
export function text<D extends string | undefined>(
  name: string,
  spec: Described & { default: D; check?: (value: string) => string | undefined; accepts?: string },
): Variable<string | D> {
  return {
    ...declared(
      name,
      'string',
      spec,
      spec.default === undefined ? NONE : `\`${spec.default}\``,
      spec.accepts ?? 'text',
    ),
    read: (env) => {
      const value = optionalStr(env, name);
      if (value === undefined) return spec.default;
      const refused = spec.check?.(value);
      if (refused !== undefined) throw new ConfigError(name, refused);
      return value;
    },
  };
}

/** A credential: optional, never printed (not in errors, not in the reference). */
export function secret(name: string, spec: Described): Variable<string | undefined> {
  return {
    ...declared(name, 'secret', spec, NONE, 'secret'),
    read: (env) => optionalStr(env, name),
  };
}

export function flag(name: string, spec: Described & { default: boolean }): Variable<boolean> {
  return {
    ...declared(name, 'boolean', spec, `\`${spec.default}\``, 'true/false (1/0, yes/no, on/off)'),
    read: (env) => bool(env, name, spec.default),
  };
}

export function choice<T extends string, D extends T | undefined>(
  name: string,
  spec: Described & { values: readonly T[]; default: D },
): Variable<T | D> {
  return {
    ...declared(
      name,
      'choice',
      spec,
      spec.default === undefined ? NONE : `\`${spec.default}\``,
      spec.values.map((v) => `\`${v}\``).join(', '),
    ),
    read: (env) => {
      if (optionalStr(env, name) === undefined) return spec.default;
      // The fallback is never returned: the variable is set.
      const first = spec.values[0];
      if (first === undefined) throw new ConfigError(name, 'declared without values');
      return oneOf(env, name, spec.values, first);
    },
  };
}

export function listVariable(
  name: string,
  spec: Described & { default: readonly string[]; check?: (item: string) => string | undefined },
): Variable<string[]> {
  return {
    ...declared(
      name,
      'list',
      spec,
      spec.default.length === 0 ? NONE : `\`${spec.default.join(',')}\``,
      'comma-separated list',
    ),
    read: (env) => {
      const items = list(env, name, spec.default);
      for (const item of items) {
        const refused = spec.check?.(item);
        if (refused !== undefined) throw new ConfigError(name, refused);
      }
      return items;
    },
  };
}

export function urlVariable(name: string, spec: Described & { default: string }): Variable<string> {
  return {
    ...declared(name, 'url', spec, `\`${spec.default}\``, 'http(s) URL'),
    read: (env) => url(env, name, spec.default),
  };
}

/** The value of a variable a service cannot run without; `why` says who needs it and where to get it. */
export function required<T>(variable: Variable<T | undefined>, env: Env, why: string): T {
  const value = variable.read(env);
  if (value === undefined) throw new ConfigError(variable.name, why);
  return value;
}
