/**
 * Configuration is parsed once, at the edge: `process.env` → one typed, deep-frozen object.
 * Modules receive config; they never read the environment. A bad value throws a ConfigError that
 * names the variable and says what would be accepted; the CLI turns it into exit code 2.
 *
 * This file holds the readers and the part every service shares (Kafka, registry, topics, logging).
 * Each service adds its own section in its own config.ts (ingress/config.ts, processors/config.ts).
 */
import { ConfigError } from './errors';

export type Env = Readonly<Record<string, string | undefined>>;

// ---------------------------------------------------------------------------------------------
// Readers. Each returns the parsed value or throws ConfigError naming the variable.
// ---------------------------------------------------------------------------------------------

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

export function int(
  env: Env,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
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
  const l = v.toLowerCase() as T;
  if (!allowed.includes(l)) throw new ConfigError(name, `expected one of ${allowed.join(', ')}, got "${v}"`);
  return l;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "72h", "15m", "30s", "250ms", "1d" (or a bare number of milliseconds) into milliseconds. */
export function parseDuration(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = DURATION_UNITS[(m[2] ?? 'ms').toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

export function duration(env: Env, name: string, fallbackMs: number, range: { minMs?: number } = {}): number {
  const v = raw(env, name);
  if (v === undefined) return fallbackMs;
  const ms = parseDuration(v);
  if (ms === undefined)
    throw new ConfigError(name, `expected a duration such as 72h, 15m, 30s or 250ms, got "${v}"`);
  if (range.minMs !== undefined && ms < range.minMs)
    throw new ConfigError(name, `must be at least ${range.minMs} ms`);
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
    for (const v of Object.values(obj as Record<string, unknown>)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}

// ---------------------------------------------------------------------------------------------
// The shared sections.
// ---------------------------------------------------------------------------------------------

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  ssl: boolean;
  /** PEM file with the CA to trust (optional; system CAs otherwise). */
  sslCaFile: string | undefined;
  sslRejectUnauthorized: boolean;
  sasl: { mechanism: SaslMechanism; username: string; password: string } | undefined;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

export interface RegistryConfig {
  url: string;
  username: string | undefined;
  password: string | undefined;
}

/** Topic names are part of the public contract; TOPIC_* variables override them per deployment. */
export interface TopicsConfig {
  raw: string;
  rejected: string;
  dlq: string;
  state: string;
  emailMessages: string;
  emailFolders: string;
  emailTracking: string;
  emailDelivery: string;
  calendarEvents: string;
  calendarCalendars: string;
  contacts: string;
  grants: string;
  unmodeled: string;
  partitions: number;
  replicationFactor: number;
  /** max.message.bytes of the raw and domain topics: `topics create` sets it, and the processor keeps
   * every domain event under it (a larger one would fail its round forever with MESSAGE_TOO_LARGE). */
  maxMessageBytes: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface CommonConfig {
  kafka: KafkaConfig;
  registry: RegistryConfig;
  topics: TopicsConfig;
  logLevel: LogLevel;
}

/** Defaults match deploy/local (the no-Docker runtime) so `npm start` needs no variables at all. */
export const DEFAULTS = {
  kafkaBrokers: '127.0.0.1:19092',
  schemaRegistryUrl: 'http://127.0.0.1:18081/apis/ccompat/v7',
  ingressPort: 3000,
  processorMetricsPort: 9464,
  topicPartitions: 12,
  /** Above what the ingress accepts (5 MiB) and what an expanded `.truncated` message usually is. */
  topicMaxMessageBytes: 16 * 1024 * 1024,
} as const;

export function loadKafkaConfig(env: Env): KafkaConfig {
  const ssl = bool(env, 'KAFKA_SSL', false);
  const mechanism = optionalStr(env, 'KAFKA_SASL_MECHANISM');
  let sasl: KafkaConfig['sasl'];
  if (mechanism !== undefined) {
    const m = oneOf(env, 'KAFKA_SASL_MECHANISM', SASL_MECHANISMS, 'plain');
    const username = optionalStr(env, 'KAFKA_SASL_USERNAME');
    const password = optionalStr(env, 'KAFKA_SASL_PASSWORD');
    if (!username) throw new ConfigError('KAFKA_SASL_USERNAME', `required when KAFKA_SASL_MECHANISM=${m}`);
    if (!password) throw new ConfigError('KAFKA_SASL_PASSWORD', `required when KAFKA_SASL_MECHANISM=${m}`);
    sasl = { mechanism: m, username, password };
  }
  const brokers = list(env, 'KAFKA_BROKERS', [DEFAULTS.kafkaBrokers]);
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b))
      throw new ConfigError('KAFKA_BROKERS', `expected host:port entries, got "${b}"`);
  }
  return {
    brokers,
    clientId: str(env, 'KAFKA_CLIENT_ID', 'nylas-stream'),
    ssl,
    sslCaFile: optionalStr(env, 'KAFKA_SSL_CA_FILE'),
    sslRejectUnauthorized: bool(env, 'KAFKA_SSL_REJECT_UNAUTHORIZED', true),
    sasl,
    connectionTimeoutMs: int(env, 'KAFKA_CONNECTION_TIMEOUT_MS', 3000, { min: 100 }),
    requestTimeoutMs: int(env, 'KAFKA_REQUEST_TIMEOUT_MS', 30000, { min: 100 }),
  };
}

export function loadRegistryConfig(env: Env): RegistryConfig {
  const username = optionalStr(env, 'SCHEMA_REGISTRY_USERNAME');
  const password = optionalStr(env, 'SCHEMA_REGISTRY_PASSWORD');
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError(
      username === undefined ? 'SCHEMA_REGISTRY_USERNAME' : 'SCHEMA_REGISTRY_PASSWORD',
      'SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together',
    );
  }
  return { url: url(env, 'SCHEMA_REGISTRY_URL', DEFAULTS.schemaRegistryUrl), username, password };
}

export function loadTopicsConfig(env: Env): TopicsConfig {
  const t = (name: string, fallback: string): string => {
    const v = str(env, name, fallback);
    if (!/^[a-zA-Z0-9._-]{1,249}$/.test(v))
      throw new ConfigError(name, `"${v}" is not a legal Kafka topic name`);
    return v;
  };
  return {
    raw: t('TOPIC_RAW', 'nylas.webhooks.raw'),
    rejected: t('TOPIC_REJECTED', 'nylas.webhooks.rejected'),
    dlq: t('TOPIC_DLQ', 'nylas.webhooks.dlq'),
    state: t('TOPIC_STATE', 'nylas-stream-processor.state'),
    emailMessages: t('TOPIC_EMAIL_MESSAGES', 'nylas.email.messages'),
    emailFolders: t('TOPIC_EMAIL_FOLDERS', 'nylas.email.folders'),
    emailTracking: t('TOPIC_EMAIL_TRACKING', 'nylas.email.tracking'),
    emailDelivery: t('TOPIC_EMAIL_DELIVERY', 'nylas.email.delivery'),
    calendarEvents: t('TOPIC_CALENDAR_EVENTS', 'nylas.calendar.events'),
    calendarCalendars: t('TOPIC_CALENDAR_CALENDARS', 'nylas.calendar.calendars'),
    contacts: t('TOPIC_CONTACTS', 'nylas.contacts'),
    grants: t('TOPIC_GRANTS', 'nylas.grants'),
    unmodeled: t('TOPIC_UNMODELED', 'nylas.unmodeled'),
    partitions: int(env, 'TOPIC_PARTITIONS', DEFAULTS.topicPartitions, { min: 1, max: 10_000 }),
    replicationFactor: int(env, 'TOPIC_REPLICATION_FACTOR', 1, { min: 1, max: 100 }),
    maxMessageBytes: int(env, 'TOPIC_MAX_MESSAGE_BYTES', DEFAULTS.topicMaxMessageBytes, {
      min: 1024 * 1024,
      max: 1024 * 1024 * 1024,
    }),
  };
}

export function loadCommonConfig(env: Env = process.env): CommonConfig {
  return {
    kafka: loadKafkaConfig(env),
    registry: loadRegistryConfig(env),
    topics: loadTopicsConfig(env),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}
