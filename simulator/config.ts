/**
 * Configuration of `nylas-stream simulate`, parsed once into one typed, frozen object. Command-line
 * flags win over environment variables; a bad value throws a ConfigError naming the flag or variable.
 */

import {
  type ConfigSection,
  deepFreeze,
  type Env,
  int,
  integer,
  NYLAS_API_VARIABLES,
  secret,
  text,
  type Variable,
} from '../lib/config';
import { ConfigError } from '../lib/errors';
import { scenarioNames } from './scenarios/scenarios';

export interface ApiServeConfig {
  host: string;
  port: number;
  apiKey: string;
  grants: number;
  seed: number;
  startTime: number | undefined;
  /** `serve --send-count`: notifications to deliver to registered destinations (0 = none). */
  sendCount: number;
}

export interface SendConfig {
  url: string;
  secret: string;
  scenario: string;
  count: number;
  grants: number;
  seed: number;
  startTime: number | undefined;
  /** First attempts per second; 0 = unlimited. */
  rate: number;
  concurrency: number;
  duplicateRate: number;
  reorderRate: number;
  /** Share of messages over 1 MB (sent as .truncated); undefined = the scenario's default. */
  truncationRate: number | undefined;
  compressed: boolean;
  /** Simulated time runs this many times faster (retry delays, Retry-After, health windows). */
  timeScale: number;
  timeoutMs: number;
  reportPath: string | undefined;
  includeFinalState: boolean;
  /** Also serve the REST API for the same world (so truncated messages can be expanded). */
  serveApi: ApiServeConfig | undefined;
}

export type Flags = Record<string, string | boolean | undefined>;

export const DEFAULT_API_KEY = 'nyk_local_simulator';

const SIMULATOR = ['simulator'] as const;

/** The few settings `simulate` also takes from the environment (flags win). */
export const SIMULATOR_VARIABLES = {
  host: text('SIMULATOR_HOST', {
    default: '127.0.0.1',
    description: '`simulate serve`: address of the simulated Nylas API (`--host` wins)',
    readBy: SIMULATOR,
  }),
  port: integer('SIMULATOR_PORT', {
    default: 0,
    min: 0,
    max: 65535,
    description: '`simulate serve`: port of the simulated Nylas API (`0`: any free port; `--port` wins)',
    readBy: SIMULATOR,
  }),
  webhookUrl: text('SIMULATOR_WEBHOOK_URL', {
    default: undefined,
    description: '`simulate send`: the webhook URL to deliver to (`--url` wins)',
    readBy: SIMULATOR,
    accepts: 'http(s) URL',
  }),
  webhookSecret: secret('SIMULATOR_WEBHOOK_SECRET', {
    description: "`simulate send`: the destination's webhook_secret (`--secret` wins)",
    readBy: SIMULATOR,
  }),
};

export const SIMULATOR_SECTION: ConfigSection = {
  title: 'Simulator',
  intro:
    '`nylas-stream simulate` (development and tests; not in the production image). `NYLAS_API_KEY` is the key `simulate serve` expects (default `nyk_local_simulator`).',
  prefixes: [],
  variables: Object.values(SIMULATOR_VARIABLES),
};

function flagOrEnv(
  flags: Flags,
  flag: string,
  env: Env,
  variable: Variable<string | undefined>,
): [string, string | undefined] {
  const f = flags[flag];
  if (typeof f === 'string' && f.trim() !== '') return [`--${kebab(flag)}`, f.trim()];
  return [variable.name, variable.read(env)];
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function intFlag(
  flags: Flags,
  flag: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const v = flags[flag];
  if (v === undefined || v === false) return fallback;
  return int({ [`--${kebab(flag)}`]: String(v) }, `--${kebab(flag)}`, fallback, range);
}

function rateFlag(flags: Flags, flag: string, fallback: number | undefined): number | undefined {
  const v = flags[flag];
  if (v === undefined || v === false) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1)
    throw new ConfigError(`--${kebab(flag)}`, `expected a share between 0 and 1, got "${String(v)}"`);
  return n;
}

function numberFlag(flags: Flags, flag: string, fallback: number, min: number): number {
  const v = flags[flag];
  if (v === undefined || v === false) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min)
    throw new ConfigError(`--${kebab(flag)}`, `expected a number ≥ ${min}, got "${String(v)}"`);
  return n;
}

function startTime(flags: Flags): number | undefined {
  const v = flags.startTime;
  if (v === undefined || v === false) return undefined;
  return intFlag(flags, 'startTime', 0, { min: 0 });
}

export function loadServeConfig(flags: Flags, env: Env = process.env): Readonly<ApiServeConfig> {
  const [, apiKey] = flagOrEnv(flags, 'apiKey', env, NYLAS_API_VARIABLES.apiKey);
  return deepFreeze({
    host: typeof flags.host === 'string' ? flags.host : SIMULATOR_VARIABLES.host.read(env),
    port:
      flags.port !== undefined
        ? intFlag(flags, 'port', 0, { min: 0, max: 65535 })
        : SIMULATOR_VARIABLES.port.read(env),
    apiKey: apiKey ?? DEFAULT_API_KEY,
    grants: intFlag(flags, 'grants', 10, { min: 1, max: 1_000_000 }),
    seed: intFlag(flags, 'seed', 1, { min: 0 }),
    startTime: startTime(flags),
    sendCount: intFlag(flags, 'sendCount', 0, { min: 0 }),
  });
}

export function loadSendConfig(flags: Flags, env: Env = process.env): Readonly<SendConfig> {
  const [urlName, url] = flagOrEnv(flags, 'url', env, SIMULATOR_VARIABLES.webhookUrl);
  if (!url)
    throw new ConfigError(
      '--url',
      'the webhook URL to deliver to is required (or set SIMULATOR_WEBHOOK_URL)',
    );
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new ConfigError(urlName, `expected an http(s) URL, got "${url}"`);
  }
  const [, secret] = flagOrEnv(flags, 'secret', env, SIMULATOR_VARIABLES.webhookSecret);
  if (!secret)
    throw new ConfigError(
      '--secret',
      'the destination webhook_secret is required (or set SIMULATOR_WEBHOOK_SECRET)',
    );
  const scenario = typeof flags.scenario === 'string' ? flags.scenario : 'burst';
  if (!scenarioNames().includes(scenario))
    throw new ConfigError(
      '--scenario',
      `unknown scenario "${scenario}"; one of ${scenarioNames().join(', ')}`,
    );
  const grants = intFlag(flags, 'grants', 10, { min: 1, max: 1_000_000 });
  const seed = intFlag(flags, 'seed', 1, { min: 0 });
  return deepFreeze({
    url,
    secret,
    scenario,
    count: intFlag(flags, 'count', 1000, { min: 1 }),
    grants,
    seed,
    startTime: startTime(flags),
    rate: numberFlag(flags, 'rate', 0, 0),
    concurrency: intFlag(flags, 'concurrency', 16, { min: 1, max: 10_000 }),
    duplicateRate: rateFlag(flags, 'duplicateRate', 0) ?? 0,
    reorderRate: rateFlag(flags, 'reorderRate', 0) ?? 0,
    truncationRate: rateFlag(flags, 'truncationRate', undefined),
    compressed: flags.compressed === true,
    timeScale: numberFlag(flags, 'timeScale', 1, 0.000001),
    timeoutMs: intFlag(flags, 'timeoutMs', 10_000, { min: 1 }),
    reportPath: typeof flags.report === 'string' ? flags.report : undefined,
    includeFinalState: flags.finalState !== false,
    serveApi:
      flags.serveApi === true
        ? { ...loadServeConfig(flags, env), grants, seed, startTime: startTime(flags) }
        : undefined,
  });
}
