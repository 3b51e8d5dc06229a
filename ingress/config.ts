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
  list,
  loadCommonConfig,
  optionalStr,
  str,
  url,
} from '../lib/config';
import { ConfigError } from '../lib/errors';
import { type DestinationSecrets, parseSecretsText } from './secrets';
import { parseCidrs } from './source';

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

/** Bounds on what a sender that has not proven it is Nylas can make the ingress hold. */
export interface IngressStrangersConfig {
  /** The whole body must arrive within this long after its headers (Nylas sends it at once). */
  bodyDeadlineMs: number;
  /** Node's headersTimeout: the request head must arrive within this long. */
  headersTimeoutMs: number;
  /** Bytes all not-yet-verified bodies may hold together (each request also costs a fixed charge). */
  unverifiedMaxBytes: number;
  /** How long an idle keep-alive connection is kept between requests. */
  keepAliveTimeoutMs: number;
}

export interface IngressSourceConfig {
  /** INGRESS_SOURCE_ALLOWLIST: addresses and CIDRs; empty and not fromNylas = no allowlist. */
  cidrs: readonly string[];
  /** Also allow Nylas's `GET /v3/webhooks/ip-addresses`, fetched with this key. */
  fromNylas: { apiKey: string; apiUri: string } | undefined;
  refreshMs: number;
  /** Proxies in front of the ingress whose X-Forwarded-For entries are believed (0: none). */
  trustProxyHops: number;
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
  strangers: IngressStrangersConfig;
  /** Undefined when no allowlist is configured (the default). */
  source: IngressSourceConfig | undefined;
  /** SIGTERM: how long to wait for in-flight requests and the last flush before giving up. */
  shutdownTimeoutMs: number;
}

export interface IngressConfig extends CommonConfig {
  ingress: IngressSection;
}

export const INGRESS_DEFAULTS = {
  host: '0.0.0.0',
  port: DEFAULTS.ingressPort,
  // Nylas sends at most 1 MB (message.* payloads above it are truncated; the unit is 10^6 or 2^20
  // bytes, nylas-webhooks-contract.md §4): twice that leaves room without inviting 5 MB strangers.
  maxBodyBytes: 2 * 1024 * 1024,
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
  bodyDeadlineMs: 5000,
  headersTimeoutMs: 5000,
  unverifiedMaxBytes: 16 * 1024 * 1024,
  // Above a load balancer's usual 60 s idle timeout, so the balancer closes first (no reset races);
  // an ingress facing the internet directly wants a few seconds instead (idle connections hold fds).
  keepAliveTimeoutMs: 65_000,
  sourceRefreshMs: 3_600_000,
} as const;

/** What each not-yet-verified request costs the budget besides its bytes (so stalls count). */
export const UNVERIFIED_PER_REQUEST_BYTES = 4096;

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
  const maxBodyBytes = int(env, 'INGRESS_MAX_BODY_BYTES', INGRESS_DEFAULTS.maxBodyBytes, {
    min: 1024,
    max: 100 * 1024 * 1024,
  });
  return {
    host,
    port: int(env, 'INGRESS_PORT', INGRESS_DEFAULTS.port, { min: 0, max: 65535 }),
    maxBodyBytes,
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
    strangers: {
      bodyDeadlineMs: int(env, 'INGRESS_BODY_DEADLINE_MS', INGRESS_DEFAULTS.bodyDeadlineMs, {
        min: 100,
        max: NYLAS_RESPONSE_DEADLINE_MS,
      }),
      headersTimeoutMs: int(env, 'INGRESS_HEADERS_TIMEOUT_MS', INGRESS_DEFAULTS.headersTimeoutMs, {
        min: 100,
        max: NYLAS_RESPONSE_DEADLINE_MS,
      }),
      // At least one body of the largest size must fit, or no such delivery could ever be read.
      unverifiedMaxBytes: int(env, 'INGRESS_UNVERIFIED_MAX_BYTES', INGRESS_DEFAULTS.unverifiedMaxBytes, {
        min: maxBodyBytes + UNVERIFIED_PER_REQUEST_BYTES,
      }),
      keepAliveTimeoutMs: int(env, 'INGRESS_KEEP_ALIVE_TIMEOUT_MS', INGRESS_DEFAULTS.keepAliveTimeoutMs, {
        min: 1000,
        max: 600_000,
      }),
    },
    source: loadSourceConfig(env),
    shutdownTimeoutMs,
  };
}

function loadSourceConfig(env: Env): IngressSourceConfig | undefined {
  const cidrs = list(env, 'INGRESS_SOURCE_ALLOWLIST', []);
  try {
    parseCidrs(cidrs);
  } catch (err) {
    // The message names the entry's position, never its text.
    throw new ConfigError('INGRESS_SOURCE_ALLOWLIST', (err as Error).message);
  }
  let fromNylas: IngressSourceConfig['fromNylas'];
  if (bool(env, 'INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS', false)) {
    const apiKey = optionalStr(env, 'NYLAS_API_KEY');
    if (apiKey === undefined)
      throw new ConfigError(
        'NYLAS_API_KEY',
        'required by INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS (the address list is fetched through the Nylas API)',
      );
    fromNylas = { apiKey, apiUri: url(env, 'NYLAS_API_URI', 'https://api.us.nylas.com') };
  }
  if (cidrs.length === 0 && fromNylas === undefined) return undefined;
  return {
    cidrs,
    fromNylas,
    refreshMs: int(env, 'INGRESS_SOURCE_ALLOWLIST_REFRESH_MS', INGRESS_DEFAULTS.sourceRefreshMs, {
      min: 1000,
    }),
    trustProxyHops: int(env, 'INGRESS_TRUST_PROXY_HOPS', 0, { min: 0, max: 10 }),
  };
}

export function loadIngressConfig(env: Env = process.env): Readonly<IngressConfig> {
  return deepFreeze({ ...loadCommonConfig(env), ingress: loadIngressSection(env) });
}
