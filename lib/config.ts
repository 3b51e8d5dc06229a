/**
 * Configuration is parsed once, at the edge: `process.env` → one typed, deep-frozen object.
 * Modules receive config; they never read the environment. A bad value throws a ConfigError that
 * names the variable and says what would be accepted; the CLI turns it into exit code 2.
 *
 * This file declares and loads the part every service shares (Kafka, registry, topics, logging, the
 * Nylas API). Each service declares its own section in its own config.ts (ingress/config.ts,
 * processors/config.ts); lib/config/declare.ts says how, docs/configuration.md is generated from the declarations
 * (`npm run docs:config`).
 */

import {
  type ConfigSection,
  choice,
  durationVariable,
  flag,
  integer,
  listVariable,
  required,
  secret,
  text,
  urlVariable,
} from './config/declare';
import type { Env } from './config/readers';
import { ConfigError } from './errors';

export * from './config/declare';
export { type DurationUnit, formatDuration, parseDuration } from './config/duration';
export * from './config/readers';
export * from './config/unknown';

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
  /** Each registry request fails after this long instead of waiting forever. */
  requestTimeoutMs: number;
}

/** Topic names are part of the public contract; TOPIC_* variables override them per deployment. */
export interface TopicsConfig {
  raw: string;
  rejected: string;
  dlq: string;
  state: string;
  /** The backfill coordinator's compacted topic: grant lifecycle facts, requests and each grant's
   * backfill state (processors/backfill/records.ts). */
  backfill: string;
  /** Compacted, per contact, calendar and folder the processor emitted as existing (a tombstone once
   * deleted): what a backfill's whole re-listing is reconciled against (processors/backfill/known-objects.ts). */
  knownObjects: string;
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

const EVERYONE = ['ingress', 'processor', 'cli'] as const;

export const KAFKA_VARIABLES = {
  brokers: listVariable('KAFKA_BROKERS', {
    default: [DEFAULTS.kafkaBrokers],
    description: 'comma-separated `host:port` list',
    readBy: EVERYONE,
    check: (b) => (/^[^\s:]+:\d{1,5}$/.test(b) ? undefined : `expected host:port entries, got "${b}"`),
  }),
  clientId: text('KAFKA_CLIENT_ID', {
    default: 'nylas-stream',
    description: 'client id prefix (each role appends its name)',
    readBy: EVERYONE,
  }),
  ssl: flag('KAFKA_SSL', { default: false, description: 'TLS to the brokers', readBy: EVERYONE }),
  sslCaFile: text('KAFKA_SSL_CA_FILE', {
    default: undefined,
    description: 'PEM CA bundle to trust (system CAs otherwise)',
    readBy: EVERYONE,
    accepts: 'file path',
  }),
  sslRejectUnauthorized: flag('KAFKA_SSL_REJECT_UNAUTHORIZED', {
    default: true,
    description: 'verify broker certificates',
    readBy: EVERYONE,
  }),
  saslMechanism: choice('KAFKA_SASL_MECHANISM', {
    values: SASL_MECHANISMS,
    default: undefined,
    description: 'SASL authentication (off when unset)',
    readBy: EVERYONE,
  }),
  saslUsername: text('KAFKA_SASL_USERNAME', {
    default: undefined,
    description: 'required with a SASL mechanism',
    readBy: EVERYONE,
  }),
  saslPassword: secret('KAFKA_SASL_PASSWORD', {
    description: 'required with a SASL mechanism',
    readBy: EVERYONE,
  }),
  connectionTimeout: durationVariable('KAFKA_CONNECTION_TIMEOUT_MS', {
    default: 3000,
    min: 100,
    description: 'client connection timeout',
    readBy: EVERYONE,
  }),
  requestTimeout: durationVariable('KAFKA_REQUEST_TIMEOUT_MS', {
    default: 30000,
    min: 100,
    description: 'client request timeout',
    readBy: EVERYONE,
  }),
};

export const REGISTRY_VARIABLES = {
  url: urlVariable('SCHEMA_REGISTRY_URL', {
    default: DEFAULTS.schemaRegistryUrl,
    description: 'Confluent-compatible registry base URL',
    readBy: EVERYONE,
  }),
  username: text('SCHEMA_REGISTRY_USERNAME', {
    default: undefined,
    description: 'basic auth (set both or neither)',
    readBy: EVERYONE,
  }),
  password: secret('SCHEMA_REGISTRY_PASSWORD', {
    description: 'basic auth (set both or neither)',
    readBy: EVERYONE,
  }),
  requestTimeout: durationVariable('SCHEMA_REGISTRY_TIMEOUT_MS', {
    default: 10000,
    min: 100,
    description:
      'registry request timeout (a registry that stops answering fails the call, which is retried)',
    readBy: EVERYONE,
  }),
};

function topicName(name: string, fallback: string, holds: string) {
  return text(name, {
    default: fallback,
    description: `topic of ${holds}`,
    readBy: EVERYONE,
    accepts: 'Kafka topic name',
    check: (v) => (/^[a-zA-Z0-9._-]{1,249}$/.test(v) ? undefined : `"${v}" is not a legal Kafka topic name`),
  });
}

export const TOPIC_VARIABLES = {
  raw: topicName('TOPIC_RAW', 'nylas.webhooks.raw', 'raw notifications as the ingress received them'),
  rejected: topicName(
    'TOPIC_REJECTED',
    'nylas.webhooks.rejected',
    'deliveries the ingress refused (sampled)',
  ),
  dlq: topicName('TOPIC_DLQ', 'nylas.webhooks.dlq', 'dead-lettered notifications'),
  state: topicName('TOPIC_STATE', 'nylas-stream-processor.state', "the processor's state (compacted)"),
  backfill: topicName(
    'TOPIC_BACKFILL',
    'nylas-stream.backfill',
    'grant lifecycle facts, backfill requests and their progress (compacted)',
  ),
  knownObjects: topicName(
    'TOPIC_KNOWN_OBJECTS',
    'nylas-stream.known-objects',
    'the contacts, calendars and folders emitted as existing, for backfill reconciliation (compacted)',
  ),
  emailMessages: topicName('TOPIC_EMAIL_MESSAGES', 'nylas.email.messages', '`message.*` domain events'),
  emailFolders: topicName('TOPIC_EMAIL_FOLDERS', 'nylas.email.folders', '`folder.*` domain events'),
  emailTracking: topicName(
    'TOPIC_EMAIL_TRACKING',
    'nylas.email.tracking',
    'tracking domain events (opens, link clicks, replies)',
  ),
  emailDelivery: topicName(
    'TOPIC_EMAIL_DELIVERY',
    'nylas.email.delivery',
    'delivery domain events (send success/failure, bounces)',
  ),
  calendarEvents: topicName('TOPIC_CALENDAR_EVENTS', 'nylas.calendar.events', '`event.*` domain events'),
  calendarCalendars: topicName(
    'TOPIC_CALENDAR_CALENDARS',
    'nylas.calendar.calendars',
    '`calendar.*` domain events',
  ),
  contacts: topicName('TOPIC_CONTACTS', 'nylas.contacts', '`contact.*` domain events'),
  grants: topicName('TOPIC_GRANTS', 'nylas.grants', '`grant.*` domain events'),
  unmodeled: topicName(
    'TOPIC_UNMODELED',
    'nylas.unmodeled',
    'notifications of types without their own domain model',
  ),
  partitions: integer('TOPIC_PARTITIONS', {
    default: DEFAULTS.topicPartitions,
    min: 1,
    max: 10_000,
    description:
      'partitions of the raw, DLQ, state, backfill, known-objects and domain topics (co-partitioned; choose generously)',
    readBy: EVERYONE,
  }),
  replicationFactor: integer('TOPIC_REPLICATION_FACTOR', {
    default: 1,
    min: 1,
    max: 100,
    description: 'set `3` in production (then `min.insync.replicas=2`)',
    readBy: EVERYONE,
  }),
  maxMessageBytes: integer('TOPIC_MAX_MESSAGE_BYTES', {
    default: DEFAULTS.topicMaxMessageBytes,
    min: 1024 * 1024,
    max: 1024 * 1024 * 1024,
    unit: 'bytes',
    description:
      '`max.message.bytes` of the raw and domain topics (`topics create` sets it; the DLQ gets 64 KiB more, state and rejected 1 MiB); the processor keeps every domain event under it',
    readBy: EVERYONE,
  }),
};

export const LOG_LEVEL = choice('LOG_LEVEL', {
  values: LOG_LEVELS,
  default: 'info',
  description: 'log level',
  readBy: EVERYONE,
});

/** The Nylas API: the processor expands truncated messages, the ingress may fetch Nylas's address
 * list, the `webhooks` commands manage destinations. Who needs the key says so when it is missing. */
export const NYLAS_API_VARIABLES = {
  apiKey: secret('NYLAS_API_KEY', {
    description:
      'Nylas API key (Dashboard → API Keys); required by the processor and the `webhooks` commands',
    readBy: [...EVERYONE, 'simulator'],
  }),
  apiUri: urlVariable('NYLAS_API_URI', {
    default: 'https://api.us.nylas.com',
    description: "`https://api.eu.nylas.com` in the EU; the simulator's URL in tests",
    readBy: EVERYONE,
  }),
};

/** The Nylas API key and address, for a reader that cannot go on without the key (`why` says which). */
export function loadNylasApiConfig(env: Env, why: string): { apiKey: string; apiUri: string } {
  return {
    apiKey: required(NYLAS_API_VARIABLES.apiKey, env, why),
    apiUri: NYLAS_API_VARIABLES.apiUri.read(env),
  };
}

export const SHARED_SECTION: ConfigSection = {
  title: 'Shared',
  intro:
    "Read by every service and by the CLI's commands. Topic names are part of the public contract: override them per deployment (every service and command alike), not per service.",
  // KAFKA_ and SCHEMA_REGISTRY_ are also set by Kafka's and registries' own images (and a Kubernetes
  // service named kafka adds KAFKA_PORT…); unknown.ts only warns, and skips service links.
  prefixes: ['KAFKA_', 'SCHEMA_REGISTRY_', 'TOPIC_'],
  variables: [
    ...Object.values(KAFKA_VARIABLES),
    ...Object.values(REGISTRY_VARIABLES),
    ...Object.values(TOPIC_VARIABLES),
    LOG_LEVEL,
    ...Object.values(NYLAS_API_VARIABLES),
  ],
};

export function loadKafkaConfig(env: Env): KafkaConfig {
  const v = KAFKA_VARIABLES;
  const mechanism = v.saslMechanism.read(env);
  let sasl: KafkaConfig['sasl'];
  if (mechanism !== undefined) {
    const username = v.saslUsername.read(env);
    const password = v.saslPassword.read(env);
    if (!username)
      throw new ConfigError('KAFKA_SASL_USERNAME', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
    if (!password)
      throw new ConfigError('KAFKA_SASL_PASSWORD', `required when KAFKA_SASL_MECHANISM=${mechanism}`);
    sasl = { mechanism, username, password };
  }
  return {
    brokers: v.brokers.read(env),
    clientId: v.clientId.read(env),
    ssl: v.ssl.read(env),
    sslCaFile: v.sslCaFile.read(env),
    sslRejectUnauthorized: v.sslRejectUnauthorized.read(env),
    sasl,
    connectionTimeoutMs: v.connectionTimeout.read(env),
    requestTimeoutMs: v.requestTimeout.read(env),
  };
}

export function loadRegistryConfig(env: Env): RegistryConfig {
  const username = REGISTRY_VARIABLES.username.read(env);
  const password = REGISTRY_VARIABLES.password.read(env);
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigError(
      username === undefined ? 'SCHEMA_REGISTRY_USERNAME' : 'SCHEMA_REGISTRY_PASSWORD',
      'SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD must be set together',
    );
  }
  return {
    url: REGISTRY_VARIABLES.url.read(env),
    username,
    password,
    requestTimeoutMs: REGISTRY_VARIABLES.requestTimeout.read(env),
  };
}

export function loadTopicsConfig(env: Env): TopicsConfig {
  const t = TOPIC_VARIABLES;
  return {
    raw: t.raw.read(env),
    rejected: t.rejected.read(env),
    dlq: t.dlq.read(env),
    state: t.state.read(env),
    backfill: t.backfill.read(env),
    knownObjects: t.knownObjects.read(env),
    emailMessages: t.emailMessages.read(env),
    emailFolders: t.emailFolders.read(env),
    emailTracking: t.emailTracking.read(env),
    emailDelivery: t.emailDelivery.read(env),
    calendarEvents: t.calendarEvents.read(env),
    calendarCalendars: t.calendarCalendars.read(env),
    contacts: t.contacts.read(env),
    grants: t.grants.read(env),
    unmodeled: t.unmodeled.read(env),
    partitions: t.partitions.read(env),
    replicationFactor: t.replicationFactor.read(env),
    maxMessageBytes: t.maxMessageBytes.read(env),
  };
}

export function loadCommonConfig(env: Env = process.env): CommonConfig {
  return {
    kafka: loadKafkaConfig(env),
    registry: loadRegistryConfig(env),
    topics: loadTopicsConfig(env),
    logLevel: LOG_LEVEL.read(env),
  };
}
