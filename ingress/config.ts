/**
 * The ingress configuration: the shared sections (Kafka, registry, topics, logging) plus the ingress
 * section, parsed once from the environment into one typed, deep-frozen object. A bad value throws a
 * ConfigError naming the variable (the CLI turns it into exit code 2).
 */
import {
  type CommonConfig,
  type ConfigSection,
  DEFAULTS,
  deepFreeze,
  durationVariable,
  type Env,
  flag,
  integer,
  listVariable,
  loadCommonConfig,
  loadNylasApiConfig,
  SHARED_SECTION,
  secret,
  text,
} from '../lib/config';
import { ConfigError, errorMessage } from '../lib/errors';
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
  // bytes, docs/nylas-contract.md §4): twice that leaves room without inviting 5 MB strangers.
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

const INGRESS = ['ingress'] as const;
const D = INGRESS_DEFAULTS;

export const INGRESS_VARIABLES = {
  host: text('INGRESS_HOST', {
    default: D.host,
    description: 'address to listen on',
    readBy: INGRESS,
    accepts: 'host name or IP address',
    check: (v) =>
      /^[0-9a-zA-Z.:_-]+$/.test(v) ? undefined : `expected a host name or IP address, got "${v}"`,
  }),
  port: integer('INGRESS_PORT', {
    default: D.port,
    min: 0,
    max: 65535,
    description: 'port (`0`: any free port)',
    readBy: ['ingress', 'cli'],
  }),
  secrets: secret('NYLAS_WEBHOOK_SECRETS', {
    description: 'secrets per destination (`secret`, `destination=secret`, comma-separated)',
    readBy: INGRESS,
  }),
  secretsFile: text('NYLAS_WEBHOOK_SECRETS_FILE', {
    default: undefined,
    description:
      'file with secrets per destination, re-read without a restart; may appear later. The `webhooks` commands write new secrets there',
    readBy: ['ingress', 'cli'],
    accepts: 'file path',
  }),
  // One declaration for both readers: the ingress re-reads the file this often, and `webhooks rotate`
  // sizes its hold from it. The ingress's minimum applies to both — a faster reload than the ingress
  // accepts cannot be the interval it runs with, and below 100 ms re-reading a file is busy-waiting.
  secretsReload: durationVariable('NYLAS_WEBHOOK_SECRETS_RELOAD_MS', {
    default: D.secretsReloadMs,
    min: 100,
    description:
      'how often the ingress re-reads the secrets file (the `webhooks` commands size their rotation hold from it)',
    readBy: ['ingress', 'cli'],
  }),
  acceptMockSecret: flag('INGRESS_ACCEPT_MOCK_SECRET', {
    default: false,
    description: 'also accept `mock-webhook-secret` (Nylas\'s "send test event")',
    readBy: INGRESS,
  }),
  maxBodyBytes: integer('INGRESS_MAX_BODY_BYTES', {
    default: D.maxBodyBytes,
    min: 1024,
    max: 100 * 1024 * 1024,
    unit: 'bytes',
    description:
      'larger bodies get `413` (Nylas sends at most 1 MB, truncating `message.*` payloads above it: twice that)',
    readBy: INGRESS,
  }),
  bodyDeadline: durationVariable('INGRESS_BODY_DEADLINE_MS', {
    default: D.bodyDeadlineMs,
    min: 100,
    max: NYLAS_RESPONSE_DEADLINE_MS,
    description:
      'the whole body must arrive this long after the head, else `408` and the connection is closed (Nylas sends it at once and waits 10 s in all)',
    readBy: INGRESS,
  }),
  headersTimeout: durationVariable('INGRESS_HEADERS_TIMEOUT_MS', {
    default: D.headersTimeoutMs,
    min: 100,
    max: NYLAS_RESPONSE_DEADLINE_MS,
    description:
      "the request head must arrive within this (node's `headersTimeout`, checked every second; also cuts connections that send nothing)",
    readBy: INGRESS,
  }),
  unverifiedMaxBytes: integer('INGRESS_UNVERIFIED_MAX_BYTES', {
    default: D.unverifiedMaxBytes,
    min: 1024 + UNVERIFIED_PER_REQUEST_BYTES,
    unit: 'bytes',
    description:
      'bytes all not-yet-verified bodies may hold together, each request also counting 4 KiB; when a newcomer does not fit, the oldest are cut with `503` (at least `INGRESS_MAX_BODY_BYTES` + 4 KiB)',
    readBy: INGRESS,
  }),
  keepAliveTimeout: durationVariable('INGRESS_KEEP_ALIVE_TIMEOUT_MS', {
    default: D.keepAliveTimeoutMs,
    min: 1000,
    max: 600_000,
    description:
      "idle keep-alive connections are closed after this (above a load balancer's 60 s; facing the internet directly, a few seconds: idle connections hold file descriptors)",
    readBy: INGRESS,
  }),
  sourceAllowlist: listVariable('INGRESS_SOURCE_ALLOWLIST', {
    default: [],
    description:
      'addresses and CIDRs allowed to POST notifications; others get `403`. Off when empty (and `INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS` is off)',
    readBy: INGRESS,
  }),
  sourceFromNylas: flag('INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS', {
    default: false,
    description:
      "also allow Nylas's `GET /v3/webhooks/ip-addresses` (needs `NYLAS_API_KEY`, `NYLAS_API_URI`); until it loads, `503`",
    readBy: INGRESS,
  }),
  sourceRefresh: durationVariable('INGRESS_SOURCE_ALLOWLIST_REFRESH_MS', {
    default: D.sourceRefreshMs,
    min: 1000,
    description: "how often Nylas's list is fetched again (every 5 s until the first success)",
    readBy: INGRESS,
  }),
  trustProxyHops: integer('INGRESS_TRUST_PROXY_HOPS', {
    default: 0,
    min: 0,
    max: 10,
    description:
      "proxies in front of the ingress whose `X-Forwarded-For` is believed for the allowlist (`0`: the socket's peer only)",
    readBy: INGRESS,
  }),
  ackTimeout: durationVariable('INGRESS_ACK_TIMEOUT_MS', {
    default: D.ackTimeoutMs,
    min: 100,
    max: NYLAS_RESPONSE_DEADLINE_MS - 500,
    description: 'budget from request received to Kafka acknowledgement, then `503` (Nylas waits 10 s)',
    readBy: INGRESS,
  }),
  retryAfter: durationVariable('INGRESS_RETRY_AFTER_SECONDS', {
    default: D.retryAfterSeconds,
    min: 1,
    max: 3600,
    unit: 's',
    description: '`Retry-After` on every `503` (whole seconds)',
    readBy: INGRESS,
  }),
  maxInFlight: integer('INGRESS_MAX_IN_FLIGHT', {
    default: D.maxInFlight,
    min: 1,
    unit: 'requests',
    description: 'notification requests in progress; beyond it `503` at once',
    readBy: INGRESS,
  }),
  maxInFlightBytes: integer('INGRESS_MAX_IN_FLIGHT_BYTES', {
    default: D.maxInFlightBytes,
    min: 1024,
    unit: 'bytes',
    description: 'body bytes waiting for Kafka; beyond it `503` at once',
    readBy: INGRESS,
  }),
  batchLinger: durationVariable('INGRESS_BATCH_LINGER_MS', {
    default: D.batchLingerMs,
    min: 0,
    max: 1000,
    description: 'how long the first record after an idle period waits for company',
    readBy: INGRESS,
  }),
  batchMaxRecords: integer('INGRESS_BATCH_MAX_RECORDS', {
    default: D.batchMaxRecords,
    min: 1,
    max: 100_000,
    unit: 'records',
    description: 'records per produce request',
    readBy: INGRESS,
  }),
  batchMaxBytes: integer('INGRESS_BATCH_MAX_BYTES', {
    default: D.batchMaxBytes,
    min: 1024,
    unit: 'bytes',
    description:
      "key + value + header bytes per produce request (keep under the broker's `message.max.bytes`; a larger single record goes alone)",
    readBy: INGRESS,
  }),
  rejectedRate: integer('INGRESS_REJECTED_RATE_PER_SEC', {
    default: D.rejectedRatePerSecond,
    min: 0,
    unit: 'records per second',
    description: 'token bucket rate for records to the rejected topic (`0`: record none)',
    readBy: INGRESS,
  }),
  rejectedBurst: integer('INGRESS_REJECTED_BURST', {
    default: D.rejectedBurst,
    min: 0,
    unit: 'records',
    description: 'token bucket burst for records to the rejected topic',
    readBy: INGRESS,
  }),
  rejectedSampleBytes: integer('INGRESS_REJECTED_SAMPLE_BYTES', {
    default: D.rejectedSampleBytes,
    min: 0,
    max: 64 * 1024,
    unit: 'bytes',
    description: 'body bytes copied into a rejected record',
    readBy: INGRESS,
  }),
  shutdownTimeout: durationVariable('INGRESS_SHUTDOWN_TIMEOUT_MS', {
    default: D.shutdownTimeoutMs,
    min: 0,
    description: 'how long SIGTERM waits for in-flight requests and the last flush',
    readBy: INGRESS,
  }),
};

export const INGRESS_SECTION: ConfigSection = {
  title: 'Ingress',
  intro: '`nylas-stream ingress`, besides the shared variables.',
  prefixes: ['INGRESS_', 'NYLAS_WEBHOOK_'],
  variables: Object.values(INGRESS_VARIABLES),
};

/** Everything the ingress reads: what its start-up checks the environment against. */
export const INGRESS_SECTIONS: readonly ConfigSection[] = [SHARED_SECTION, INGRESS_SECTION];

export function loadIngressSection(env: Env): IngressSection {
  const v = INGRESS_VARIABLES;
  const secretsText = v.secrets.read(env);
  let inline: DestinationSecrets = {};
  if (secretsText !== undefined) {
    try {
      inline = parseSecretsText(secretsText);
    } catch (err) {
      // The parser's message never contains a secret, only positions and destination names.
      throw new ConfigError('NYLAS_WEBHOOK_SECRETS', errorMessage(err));
    }
  }
  const maxBodyBytes = v.maxBodyBytes.read(env);
  const unverifiedMaxBytes = v.unverifiedMaxBytes.read(env);
  // At least one body of the largest size must fit, or no such delivery could ever be read.
  const unverifiedMin = maxBodyBytes + UNVERIFIED_PER_REQUEST_BYTES;
  if (unverifiedMaxBytes < unverifiedMin)
    throw new ConfigError(
      'INGRESS_UNVERIFIED_MAX_BYTES',
      `must be >= ${unverifiedMin} (INGRESS_MAX_BODY_BYTES + ${UNVERIFIED_PER_REQUEST_BYTES}), got ${unverifiedMaxBytes}`,
    );
  return {
    host: v.host.read(env),
    port: v.port.read(env),
    maxBodyBytes,
    ackTimeoutMs: v.ackTimeout.read(env),
    retryAfterSeconds: v.retryAfter.read(env),
    maxInFlight: v.maxInFlight.read(env),
    maxInFlightBytes: v.maxInFlightBytes.read(env),
    batch: {
      lingerMs: v.batchLinger.read(env),
      maxRecords: v.batchMaxRecords.read(env),
      maxBytes: v.batchMaxBytes.read(env),
    },
    secrets: {
      inline,
      file: v.secretsFile.read(env),
      reloadIntervalMs: v.secretsReload.read(env),
      acceptMockSecret: v.acceptMockSecret.read(env),
    },
    rejected: {
      ratePerSecond: v.rejectedRate.read(env),
      burst: v.rejectedBurst.read(env),
      sampleBytes: v.rejectedSampleBytes.read(env),
    },
    strangers: {
      bodyDeadlineMs: v.bodyDeadline.read(env),
      headersTimeoutMs: v.headersTimeout.read(env),
      unverifiedMaxBytes,
      keepAliveTimeoutMs: v.keepAliveTimeout.read(env),
    },
    source: loadSourceConfig(env),
    shutdownTimeoutMs: v.shutdownTimeout.read(env),
  };
}

function loadSourceConfig(env: Env): IngressSourceConfig | undefined {
  const v = INGRESS_VARIABLES;
  const cidrs = v.sourceAllowlist.read(env);
  try {
    parseCidrs(cidrs);
  } catch (err) {
    // The message names the entry's position, never its text.
    throw new ConfigError('INGRESS_SOURCE_ALLOWLIST', errorMessage(err));
  }
  let fromNylas: IngressSourceConfig['fromNylas'];
  if (v.sourceFromNylas.read(env)) {
    fromNylas = loadNylasApiConfig(
      env,
      'required by INGRESS_SOURCE_ALLOWLIST_FROM_NYLAS (the address list is fetched through the Nylas API)',
    );
  }
  if (cidrs.length === 0 && fromNylas === undefined) return undefined;
  return {
    cidrs,
    fromNylas,
    refreshMs: v.sourceRefresh.read(env),
    trustProxyHops: v.trustProxyHops.read(env),
  };
}

export function loadIngressConfig(env: Env = process.env): Readonly<IngressConfig> {
  return deepFreeze({ ...loadCommonConfig(env), ingress: loadIngressSection(env) });
}
