/**
 * The processor's configuration: the common sections (Kafka, registry, topics, logging) plus its own,
 * parsed once from the environment into a frozen object (lib/config.ts has the readers). A bad value
 * throws ConfigError naming the variable.
 */
import {
  type CommonConfig,
  DEFAULTS,
  deepFreeze,
  duration,
  type Env,
  int,
  loadCommonConfig,
  optionalStr,
  str,
  url,
} from '../lib/config';
import { ConfigError } from '../lib/errors';
import { type AcceptWindow, defaultAcceptWindowMs } from './stages/window';

export interface ExpansionConfig {
  /** Nylas API calls in flight at once, over all partitions of this instance. */
  concurrency: number;
  /** Give up on one truncated message after this long (retries and Retry-After waits included) → DLQ. */
  deadlineMs: number;
  /** One HTTP call's budget; the SDK's own timeout is set to the same. */
  requestTimeoutMs: number;
  /** First backoff step; doubles per attempt (full jitter), capped by backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** After this long, a grant whose expansion is still pending is set aside so the other grants of the
   * same partition commit; it continues when the API answers (see README, "slow API"). */
  deferAfterMs: number;
}

export interface ProcessorConfig extends CommonConfig {
  groupId: string;
  nylas: { apiKey: string; apiUri: string };
  /** Notification ids and object versions are remembered this long (default 96 h). */
  dedupeWindowMs: number;
  /** A notification whose envelope time is older than this is dead-lettered BEYOND_WINDOW (default 80 h);
   * always shorter than dedupeWindowMs (stages/window.ts). */
  acceptWindowMs: number;
  /** Hold a partition's records until the oldest is this old, so near-simultaneous arrivals are ordered
   * by version together (0 = off). */
  reorderWindowMs: number;
  expansion: ExpansionConfig;
  metricsPort: number;
  /** Records queued per partition before fetching pauses (backpressure). */
  maxQueuedRecords: number;
  /** Bytes (keys and values) queued per partition before fetching pauses, whichever bound comes first. */
  maxQueuedBytes: number;
  /** Upper bound of records in one transaction. */
  maxRecordsPerTransaction: number;
  /** kafkajs fetch size per partition. */
  maxBytesPerPartition: number;
  sessionTimeoutMs: number;
  /** A consumer that crashed and has not joined the group again after this long is replaced
   * (processors/rejoin-watchdog.ts). */
  rejoinTimeoutMs: number;
  transactionTimeoutMs: number;
  /** Rounds failing for a reason no stage could name: whole-round attempts at one offset before the
   * partition is bisected to isolate the record (processors/poison/round-failures.ts). */
  poisonAttempts: number;
  /** Backoff between takeovers after a failed round: first step, doubling, capped. */
  retryBackoffBaseMs: number;
  retryBackoffMaxMs: number;
  /** Every wait of a takeover (fence, committed offsets, restore) is bounded by this. */
  takeoverTimeoutMs: number;
  /** How often the group's committed offsets and the log ends are read for lag and stall. */
  lagIntervalMs: number;
  /** A partition whose committed offset has not moved for this long while records wait makes /healthz
   * answer 503 (the liveness probe restarts the process). */
  stallTimeoutMs: number;
}

export const PROCESSOR_GROUP_ID = 'nylas-stream-processor';

/** 72 h of Nylas backfill after a re-authentication + 22 min for its first delivery and retries + 7.6 h
 * for a burst and our own backlog = 80 h of ACCEPT_WINDOW; the state outlives it by 16 h (README,
 * "The acceptance window"). */
export const DEFAULT_DEDUPE_WINDOW_MS = 96 * 3_600_000;

/**
 * DEDUPE_WINDOW and ACCEPT_WINDOW, read together because one bounds the other: a notification may be
 * accepted only while every state entry that could contradict it still exists, so ACCEPT_WINDOW must be
 * shorter than DEDUPE_WINDOW (the difference is how far a `time` may run ahead of our clock). Also read by
 * `replay` and `redrive`, which count and refuse what the processor would refuse.
 */
export function loadWindowConfig(env: Env = process.env): AcceptWindow {
  const dedupeWindowMs = duration(env, 'DEDUPE_WINDOW', DEFAULT_DEDUPE_WINDOW_MS, { minMs: 1000 });
  const acceptWindowMs = duration(env, 'ACCEPT_WINDOW', defaultAcceptWindowMs(dedupeWindowMs), {
    minMs: 1,
  });
  if (acceptWindowMs >= dedupeWindowMs) {
    throw new ConfigError(
      'ACCEPT_WINDOW',
      `must be shorter than DEDUPE_WINDOW (${dedupeWindowMs} ms): a notification accepted after its state entries expired could bring back the past`,
    );
  }
  return { dedupeWindowMs, acceptWindowMs };
}

export function loadProcessorConfig(env: Env = process.env): Readonly<ProcessorConfig> {
  const common = loadCommonConfig(env);
  const apiKey = optionalStr(env, 'NYLAS_API_KEY');
  if (apiKey === undefined) {
    throw new ConfigError(
      'NYLAS_API_KEY',
      'required: the processor fetches truncated messages through the Nylas API (Dashboard → API Keys)',
    );
  }
  const groupId = str(env, 'PROCESSOR_GROUP_ID', PROCESSOR_GROUP_ID);
  const deadlineMs = duration(env, 'EXPANSION_DEADLINE', 60_000, { minMs: 100 });
  const backoffBaseMs = duration(env, 'EXPANSION_BACKOFF_BASE', 250, { minMs: 1 });
  const backoffMaxMs = duration(env, 'EXPANSION_BACKOFF_MAX', 10_000, { minMs: 1 });
  if (backoffMaxMs < backoffBaseMs) {
    throw new ConfigError('EXPANSION_BACKOFF_MAX', `must be >= EXPANSION_BACKOFF_BASE (${backoffBaseMs} ms)`);
  }
  const sessionTimeoutMs = int(env, 'PROCESSOR_SESSION_TIMEOUT_MS', 30_000, { min: 6000 });
  const transactionTimeoutMs = int(env, 'PROCESSOR_TRANSACTION_TIMEOUT_MS', 60_000, { min: 1000 });
  const retryBackoffBaseMs = duration(env, 'PROCESSOR_RETRY_BACKOFF_BASE', 250, { minMs: 1 });
  const retryBackoffMaxMs = duration(env, 'PROCESSOR_RETRY_BACKOFF_MAX', 30_000, { minMs: 1 });
  if (retryBackoffMaxMs < retryBackoffBaseMs) {
    throw new ConfigError(
      'PROCESSOR_RETRY_BACKOFF_MAX',
      `must be >= PROCESSOR_RETRY_BACKOFF_BASE (${retryBackoffBaseMs} ms)`,
    );
  }
  // Longer than the longest legitimate pause of progress: an expansion's deadline (then it is
  // dead-lettered) plus a takeover's bound.
  const stallTimeoutMs = duration(env, 'PROCESSOR_STALL_TIMEOUT', 10 * 60_000, { minMs: 1000 });
  return deepFreeze({
    ...common,
    groupId,
    nylas: { apiKey, apiUri: url(env, 'NYLAS_API_URI', 'https://api.us.nylas.com') },
    ...loadWindowConfig(env),
    reorderWindowMs: int(env, 'REORDER_WINDOW_MS', 0, { min: 0, max: 600_000 }),
    expansion: {
      concurrency: int(env, 'EXPANSION_CONCURRENCY', 16, { min: 1, max: 1000 }),
      deadlineMs,
      requestTimeoutMs: duration(env, 'EXPANSION_REQUEST_TIMEOUT', 15_000, { minMs: 100 }),
      backoffBaseMs,
      backoffMaxMs,
      deferAfterMs: duration(env, 'EXPANSION_DEFER_AFTER', 100, { minMs: 0 }),
    },
    metricsPort: int(env, 'PROCESSOR_METRICS_PORT', DEFAULTS.processorMetricsPort, { min: 0, max: 65535 }),
    maxQueuedRecords: int(env, 'PROCESSOR_MAX_QUEUED_RECORDS', 20_000, { min: 1 }),
    maxQueuedBytes: int(env, 'PROCESSOR_MAX_QUEUED_BYTES', 64 * 1024 * 1024, { min: 1024 }),
    maxRecordsPerTransaction: int(env, 'PROCESSOR_MAX_RECORDS_PER_TRANSACTION', 5000, { min: 1 }),
    maxBytesPerPartition: int(env, 'PROCESSOR_MAX_BYTES_PER_PARTITION', 4 * 1024 * 1024, { min: 1024 }),
    sessionTimeoutMs,
    // Longer than a legitimate join: kafkajs's rebalance timeout (60 s) plus a session timeout.
    rejoinTimeoutMs: duration(env, 'PROCESSOR_REJOIN_TIMEOUT', 90_000, { minMs: 1000 }),
    transactionTimeoutMs,
    poisonAttempts: int(env, 'PROCESSOR_POISON_ATTEMPTS', 3, { min: 1, max: 100 }),
    retryBackoffBaseMs,
    retryBackoffMaxMs,
    takeoverTimeoutMs: duration(env, 'PROCESSOR_TAKEOVER_TIMEOUT', 120_000, { minMs: 1000 }),
    lagIntervalMs: duration(env, 'PROCESSOR_LAG_INTERVAL', 10_000, { minMs: 100 }),
    stallTimeoutMs,
  });
}
