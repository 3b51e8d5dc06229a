/**
 * The ingress configuration: the shared sections (Kafka, registry, topics, logging) plus the ingress
 * section, parsed once from the environment into one typed, deep-frozen object. A bad value throws a
 * ConfigError naming the variable (the CLI turns it into exit code 2).
 */
import {
  bool,
  type CommonConfig,
  DEFAULTS,
  deepFreeze,
  type Env,
  int,
  loadCommonConfig,
  optionalStr,
  str,
} from '../lib/config';
import { ConfigError } from '../lib/errors';
import { type DestinationSecrets, parseSecretsText } from './secrets';

/** Nylas gives a destination 10 s to answer; the ack budget must leave room for the network. */
export const NYLAS_RESPONSE_DEADLINE_MS = 10_000;

export interface IngressBatchConfig {
  /** How long the first record of a batch may wait for company when the producer is idle. */
  lingerMs: number;
  maxRecords: number;
  /** Sum of key + value + header bytes per produce request (keep under the broker's message.max.bytes). */
  maxBytes: number;
}

export interface IngressSecretsConfig {
  /** From NYLAS_WEBHOOK_SECRETS, parsed (destination → secrets). */
  inline: DestinationSecrets;
  /** NYLAS_WEBHOOK_SECRETS_FILE: re-read every `reloadIntervalMs` (and on SIGHUP) without a restart. */
  file: string | undefined;
  reloadIntervalMs: number;
  /** Accept `mock-webhook-secret` (Nylas's "send test event") on every destination. Off unless asked. */
  acceptMockSecret: boolean;
}

export interface IngressRejectedConfig {
  /** Token bucket for recording refused deliveries to the rejected topic. */
  ratePerSecond: number;
  burst: number;
  /** At most this many body bytes are copied into a rejected record. */
  sampleBytes: number;
}

export interface IngressSection {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Budget from request received to Kafka acknowledgement; past it the answer is 503. */
  ackTimeoutMs: number;
  retryAfterSeconds: number;
  /** Notification requests being read, verified or waiting for their acknowledgement. */
  maxInFlight: number;
  /** Body bytes waiting for an acknowledgement. */
  maxInFlightBytes: number;
  batch: IngressBatchConfig;
  secrets: IngressSecretsConfig;
  rejected: IngressRejectedConfig;
  /** SIGTERM: how long to wait for in-flight requests and the last flush before giving up. */
  shutdownTimeoutMs: number;
}

export interface IngressConfig extends CommonConfig {
  ingress: IngressSection;
}

export const INGRESS_DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULTS.ingressPort,
  maxBodyBytes: 5 * 1024 * 1024,
  ackTimeoutMs: 8000,
  retryAfterSeconds: 5,
  maxInFlight: 10_000,
  maxInFlightBytes: 256 * 1024 * 1024,
  batchLingerMs: 2,
  batchMaxRecords: 500,
  batchMaxBytes: 900 * 1024,
  secretsReloadMs: 5000,
  rejectedRatePerSecond: 5,
  rejectedBurst: 20,
  rejectedSampleBytes: 2048,
  shutdownTimeoutMs: 20_000,
} as const;

export function loadIngressSection(env: Env): IngressSection {
  const ackTimeoutMs = int(env, 'INGRESS_ACK_TIMEOUT_MS', INGRESS_DEFAULTS.ackTimeoutMs, {
    min: 100,
    max: NYLAS_RESPONSE_DEADLINE_MS - 500,
  });
  const secretsText = optionalStr(env, 'NYLAS_WEBHOOK_SECRETS');
  let inline: DestinationSecrets = {};
  if (secretsText !== undefined) {
    try {
      inline = parseSecretsText(secretsText);
    } catch (err) {
      // The parser's message never contains a secret, only positions and destination names.
      throw new ConfigError('NYLAS_WEBHOOK_SECRETS', (err as Error).message);
    }
  }
  const host = str(env, 'INGRESS_HOST', INGRESS_DEFAULTS.host);
  if (!/^[0-9a-zA-Z.:_-]+$/.test(host))
    throw new ConfigError('INGRESS_HOST', `expected a host name or IP address, got "${host}"`);
  const shutdownTimeoutMs = int(env, 'INGRESS_SHUTDOWN_TIMEOUT_MS', INGRESS_DEFAULTS.shutdownTimeoutMs, {
    min: 0,
  });
  return {
    host,
    port: int(env, 'INGRESS_PORT', INGRESS_DEFAULTS.port, { min: 0, max: 65535 }),
    maxBodyBytes: int(env, 'INGRESS_MAX_BODY_BYTES', INGRESS_DEFAULTS.maxBodyBytes, {
      min: 1024,
      max: 100 * 1024 * 1024,
    }),
    ackTimeoutMs,
    retryAfterSeconds: int(env, 'INGRESS_RETRY_AFTER_SECONDS', INGRESS_DEFAULTS.retryAfterSeconds, {
      min: 1,
      max: 3600,
    }),
    maxInFlight: int(env, 'INGRESS_MAX_IN_FLIGHT', INGRESS_DEFAULTS.maxInFlight, { min: 1 }),
    maxInFlightBytes: int(env, 'INGRESS_MAX_IN_FLIGHT_BYTES', INGRESS_DEFAULTS.maxInFlightBytes, {
      min: 1024,
    }),
    batch: {
      lingerMs: int(env, 'INGRESS_BATCH_LINGER_MS', INGRESS_DEFAULTS.batchLingerMs, { min: 0, max: 1000 }),
      maxRecords: int(env, 'INGRESS_BATCH_MAX_RECORDS', INGRESS_DEFAULTS.batchMaxRecords, {
        min: 1,
        max: 100_000,
      }),
      maxBytes: int(env, 'INGRESS_BATCH_MAX_BYTES', INGRESS_DEFAULTS.batchMaxBytes, { min: 1024 }),
    },
    secrets: {
      inline,
      file: optionalStr(env, 'NYLAS_WEBHOOK_SECRETS_FILE'),
      reloadIntervalMs: int(env, 'NYLAS_WEBHOOK_SECRETS_RELOAD_MS', INGRESS_DEFAULTS.secretsReloadMs, {
        min: 100,
      }),
      acceptMockSecret: bool(env, 'INGRESS_ACCEPT_MOCK_SECRET', false),
    },
    rejected: {
      ratePerSecond: int(env, 'INGRESS_REJECTED_RATE_PER_SEC', INGRESS_DEFAULTS.rejectedRatePerSecond, {
        min: 0,
      }),
      burst: int(env, 'INGRESS_REJECTED_BURST', INGRESS_DEFAULTS.rejectedBurst, { min: 0 }),
      sampleBytes: int(env, 'INGRESS_REJECTED_SAMPLE_BYTES', INGRESS_DEFAULTS.rejectedSampleBytes, {
        min: 0,
        max: 64 * 1024,
      }),
    },
    shutdownTimeoutMs,
  };
}

export function loadIngressConfig(env: Env = process.env): Readonly<IngressConfig> {
  return deepFreeze({ ...loadCommonConfig(env), ingress: loadIngressSection(env) });
}
