/**
 * The processor's configuration: the common sections (Kafka, registry, topics, logging) plus its own,
 * parsed once from the environment into a frozen object (lib/config.ts has the readers). A bad value
 * throws ConfigError naming the variable.
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
  loadCommonConfig,
  loadNylasApiConfig,
  SHARED_SECTION,
  text,
  type Variable,
} from '../lib/config';
import { ConfigError } from '../lib/errors';
import { type AcceptWindow, defaultAcceptWindowMs } from './stages/window';
import { DEFAULT_FILTER_BYTES } from './state/segment-filter';

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
   * same partition commit; it continues when the API answers (docs/processor-internals.md, "Deferral"). */
  deferAfterMs: number;
  /** Bytes of fetched messages the instance holds at once, an expansion whose body has not arrived
   * counting as TOPIC_MAX_MESSAGE_BYTES (processors/expansion-budget.ts); 0: derived from the heap limit. */
  maxHeldBytes: number;
}

/** The backfill coordinator (processors/backfill/), run by every processor. */
export interface BackfillConfig {
  /** Nylas backfills a grant re-authenticated within this long of its last sync by itself (72 h, §7);
   * beyond it the coordinator lists what changed in the gap. */
  horizonMs: number;
  /** `grant.created` requests the history of this many days (0: off). */
  historyDays: number;
  /** Of EXPANSION_CONCURRENCY's slots, how many backfill list calls may hold at once: truncated messages
   * keep the rest. */
  concurrency: number;
  /** Objects per list page (Nylas's maximum is 200). */
  pageSize: number;
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
  backfill: BackfillConfig;
  metricsPort: number;
  /** Records queued per partition before fetching pauses (backpressure). */
  maxQueuedRecords: number;
  /** Bytes queued per partition before fetching pauses, whichever bound comes first (counted as
   * processors/partition.ts queuedBytesOf does: the record's bytes and its objects' overhead). */
  maxQueuedBytes: number;
  /** Bytes queued over all partitions of the process: the partitions holding the most pause beyond it
   * (processors/queue-budget.ts). */
  maxQueuedBytesTotal: number;
  /** Upper bound of records in one transaction. */
  maxRecordsPerTransaction: number;
  /** kafkajs fetch size per partition. */
  maxBytesPerPartition: number;
  /** kafkajs fetch size over all partitions led by one broker. */
  maxBytesPerFetch: number;
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
  /** The on-disk state stores (processors/state/registry.ts). */
  state: { dir: string; cacheEntries: number; filterBytes: number };
  /** V8's heap growing factor for the processor process, in percent over 1 (0: V8's own;
   * processors/heap.ts). */
  heapGrowingPercent: number;
  /** V8's --optimize-for-size (PROCESSOR_OPTIMIZE_FOR_SIZE). */
  optimizeForSize: boolean;
  /** Quiet time after which `nylas-stream processor` gives V8's pooled heap pages back (0: never;
   * processors/heap.ts). */
  idleMemoryReleaseMs: number;
}

export const PROCESSOR_GROUP_ID = 'nylas-stream-processor';

/** 72 h of Nylas backfill after a re-authentication + 22 min for its first delivery and retries + 7.6 h
 * for a burst and our own backlog = 80 h of ACCEPT_WINDOW; the state outlives it by 16 h (docs/processor-internals.md,
 * "The acceptance window"). */
export const DEFAULT_DEDUPE_WINDOW_MS = 96 * 3_600_000;

const PROCESSOR = ['processor'] as const;

/** Relative to the processor's working directory; the image and `up` set their own. */
export const DEFAULT_STATE_DIR = '.nylas-stream/state';

export const PROCESSOR_VARIABLES = {
  groupId: text('PROCESSOR_GROUP_ID', {
    default: PROCESSOR_GROUP_ID,
    description:
      'consumer group; prefix of the transactional ids and of the restore groups (`<group>-restore-*`). `replay` recognises the processor group by it',
    readBy: ['processor', 'cli'],
  }),
  dedupeWindow: durationVariable('DEDUPE_WINDOW', {
    default: DEFAULT_DEDUPE_WINDOW_MS,
    min: 1000,
    description: 'how long notification ids and object versions are remembered',
    readBy: ['processor', 'cli'],
  }),
  acceptWindow: durationVariable('ACCEPT_WINDOW', {
    default: undefined,
    min: 1,
    defaultText: '5/6 of `DEDUPE_WINDOW` (`80h`)',
    description:
      'envelope times older than this → DLQ `BEYOND_WINDOW`; must be shorter than `DEDUPE_WINDOW`. `replay` and `redrive` count what the processor would refuse',
    readBy: ['processor', 'cli'],
  }),
  reorderWindow: durationVariable('REORDER_WINDOW_MS', {
    default: 0,
    min: 0,
    max: 600_000,
    description: 'hold records until the oldest is this old, to order near-simultaneous arrivals (0 = off)',
    readBy: PROCESSOR,
  }),
  expansionConcurrency: integer('EXPANSION_CONCURRENCY', {
    default: 16,
    min: 1,
    max: 1000,
    unit: 'requests',
    description: 'Nylas API calls in flight per instance',
    readBy: PROCESSOR,
  }),
  expansionDeadline: durationVariable('EXPANSION_DEADLINE', {
    default: 60_000,
    min: 100,
    description: 'give up on one truncated message after this long (retries included) → DLQ',
    readBy: PROCESSOR,
  }),
  expansionRequestTimeout: durationVariable('EXPANSION_REQUEST_TIMEOUT', {
    default: 15_000,
    min: 100,
    description: 'one Nylas API call',
    readBy: PROCESSOR,
  }),
  expansionBackoffBase: durationVariable('EXPANSION_BACKOFF_BASE', {
    default: 250,
    min: 1,
    description: 'first step of the expansion backoff (doubling, full jitter)',
    readBy: PROCESSOR,
  }),
  expansionBackoffMax: durationVariable('EXPANSION_BACKOFF_MAX', {
    default: 10_000,
    min: 1,
    description: 'cap of the expansion backoff (at least `EXPANSION_BACKOFF_BASE`)',
    readBy: PROCESSOR,
  }),
  expansionDeferAfter: durationVariable('EXPANSION_DEFER_AFTER', {
    default: 100,
    min: 0,
    description:
      'set an object waiting for the API aside after this long, so the partition commits (0: at once)',
    readBy: PROCESSOR,
  }),
  // 0: derived from V8's heap limit at start (processors/expansion-budget.ts, expansionBudgetBytes), so a
  // processor in a small container gets a small budget instead of a heap that runs out.
  expansionMaxHeldBytes: integer('EXPANSION_MAX_HELD_BYTES', {
    default: 0,
    min: 0,
    unit: 'bytes',
    description:
      'fetched bodies of truncated messages the instance holds at once, until the round that emits them commits; an expansion reserves `TOPIC_MAX_MESSAGE_BYTES` until its body arrives; beyond it expansions wait, unless every body held waits for one of them. `0`: derived from the heap limit, half of what it leaves above 192 MiB less one reservation, between one and `EXPANSION_CONCURRENCY` reservations (logged as `expansionMaxHeldMb`); docs/operations.md, "Processor memory: expansions"',
    readBy: PROCESSOR,
  }),
  backfillHorizon: durationVariable('BACKFILL_HORIZON', {
    default: 72 * 3_600_000,
    min: 60_000,
    description:
      'a grant re-authenticated longer than this after its last sync (`grant_updated_at` of its grant.expired) is backfilled through the list endpoints; within it Nylas backfills by itself and no list call is made',
    readBy: PROCESSOR,
  }),
  backfillHistoryDays: integer('BACKFILL_HISTORY_DAYS', {
    default: 0,
    min: 0,
    max: 3650,
    unit: 'days',
    description:
      '`grant.created` requests a backfill of this many days of history (messages received, events updated; contacts, calendars, folders whole); `0`: off',
    readBy: PROCESSOR,
  }),
  backfillConcurrency: integer('BACKFILL_CONCURRENCY', {
    default: 2,
    min: 1,
    max: 1000,
    unit: 'requests',
    description:
      'backfill list calls in flight per instance, taken from `EXPANSION_CONCURRENCY` (must be smaller, so truncated messages always have slots)',
    readBy: PROCESSOR,
  }),
  backfillPageSize: integer('BACKFILL_PAGE_SIZE', {
    default: 200,
    min: 1,
    max: 200,
    unit: 'objects',
    description: '`limit` of each list call (Nylas allows at most 200)',
    readBy: PROCESSOR,
  }),
  metricsPort: integer('PROCESSOR_METRICS_PORT', {
    default: DEFAULTS.processorMetricsPort,
    min: 0,
    max: 65535,
    description: 'metrics and health (`0`: any free port)',
    readBy: ['processor', 'cli'],
  }),
  maxQueuedRecords: integer('PROCESSOR_MAX_QUEUED_RECORDS', {
    default: 20_000,
    min: 1,
    unit: 'records',
    description: 'per partition; fetching pauses beyond it',
    readBy: PROCESSOR,
  }),
  maxQueuedBytes: integer('PROCESSOR_MAX_QUEUED_BYTES', {
    default: 64 * 1024 * 1024,
    min: 1024,
    unit: 'bytes',
    description:
      'per partition (keys, values, headers and about 1.2 KB of objects per record); fetching also pauses beyond it',
    readBy: PROCESSOR,
  }),
  // 32 MiB (with 2 MiB per partition and 4 MiB per fetch below): the budget sets how many records a
  // round can take, and each round has fixed costs (a transaction; the store's read and write batch), so
  // CPU per record follows the round size. With 16 MiB and 1 / 2 MiB, rounds of the realistic mix held
  // ~350 records and the processor ran at 0.77-0.94x the events/s of cf61125 (the last heap-store build,
  // before backfill); with these, 0.87-1.01x, at 60-90 MB more peak RSS in a flat-out drain (benchmarks.md,
  // "Rounds, not the store" and "The store's own cost").
  maxQueuedBytesTotal: integer('PROCESSOR_MAX_QUEUED_BYTES_TOTAL', {
    default: 32 * 1024 * 1024,
    min: 1024 * 1024,
    unit: 'bytes',
    description:
      'all partitions of the process together, counted as for `PROCESSOR_MAX_QUEUED_BYTES`: beyond it, the partitions holding at least an equal share pause fetching until the process is under half of it or the partition under half its share (a partition holding less can always fetch)',
    readBy: PROCESSOR,
  }),
  maxRecordsPerTransaction: integer('PROCESSOR_MAX_RECORDS_PER_TRANSACTION', {
    default: 5000,
    min: 1,
    unit: 'records',
    description: 'upper bound of one round',
    readBy: PROCESSOR,
  }),
  // The fetch sizes bound what arrives at once, before any queue limit can pause a partition: with
  // 4 MiB per partition and kafkajs's 10 MiB per fetch, drains of 300,000 peaked at 72-74 MB of records
  // queued against a 16-32 MiB budget (72-117 MB at 128 MiB), and V8 grew its heap around them
  // (docs/operations.md, "Processor memory"). Half of that (2 / 4 MiB) with the 32 MiB budget: the budget
  // alone (1 / 2 MiB fetches) drained the realistic mix at 0.91x cf61125, both together at 0.94-1.01x
  // (benchmarks.md, "Rounds, not the store"). 4 / 8 MiB: 0.93x against 0.81x in one session without the
  // > 1 MB messages, but a 663 MB RSS peak in the 2 M state drain ("The store's own cost").
  // A record larger than either still arrives (brokers return the first batch whole).
  maxBytesPerPartition: integer('PROCESSOR_MAX_BYTES_PER_PARTITION', {
    default: 2 * 1024 * 1024,
    min: 1024,
    unit: 'bytes',
    description: 'kafkajs fetch size per partition',
    readBy: PROCESSOR,
  }),
  maxBytesPerFetch: integer('PROCESSOR_MAX_BYTES_PER_FETCH', {
    default: 4 * 1024 * 1024,
    min: 1024,
    unit: 'bytes',
    description: 'kafkajs fetch size over all partitions of one broker',
    readBy: PROCESSOR,
  }),
  sessionTimeout: durationVariable('PROCESSOR_SESSION_TIMEOUT_MS', {
    default: 30_000,
    min: 6000,
    description: 'consumer session timeout',
    readBy: PROCESSOR,
  }),
  // Longer than a legitimate join: kafkajs's rebalance timeout (60 s) plus a session timeout.
  rejoinTimeout: durationVariable('PROCESSOR_REJOIN_TIMEOUT', {
    default: 90_000,
    min: 1000,
    description:
      'a consumer that crashed and has not rejoined the group after this long is replaced in-process',
    readBy: PROCESSOR,
  }),
  transactionTimeout: durationVariable('PROCESSOR_TRANSACTION_TIMEOUT_MS', {
    default: 60_000,
    min: 1000,
    description:
      "transaction timeout (a dead owner's transaction is aborted sooner, by the next owner's fence)",
    readBy: PROCESSOR,
  }),
  poisonAttempts: integer('PROCESSOR_POISON_ATTEMPTS', {
    default: 3,
    min: 1,
    max: 100,
    unit: 'attempts',
    description:
      'whole-round attempts at one offset, for failures no stage could blame on a record, before the rounds are bisected and the record that fails alone is dead-lettered (`POISON_ISOLATED`)',
    readBy: PROCESSOR,
  }),
  retryBackoffBase: durationVariable('PROCESSOR_RETRY_BACKOFF_BASE', {
    default: 250,
    min: 1,
    description: 'first step of the backoff between takeovers after a failed round (doubling)',
    readBy: PROCESSOR,
  }),
  retryBackoffMax: durationVariable('PROCESSOR_RETRY_BACKOFF_MAX', {
    default: 30_000,
    min: 1,
    description: 'cap of the takeover backoff (at least `PROCESSOR_RETRY_BACKOFF_BASE`)',
    readBy: PROCESSOR,
  }),
  takeoverTimeout: durationVariable('PROCESSOR_TAKEOVER_TIMEOUT', {
    default: 120_000,
    min: 1000,
    description:
      'bound of every takeover step (fence, committed offsets, restore); a step that hangs fails the takeover, which is retried',
    readBy: PROCESSOR,
  }),
  lagInterval: durationVariable('PROCESSOR_LAG_INTERVAL', {
    default: 10_000,
    min: 100,
    description: 'how often lag and stall are read from the broker (committed offset against log end)',
    readBy: PROCESSOR,
  }),
  // Longer than the longest legitimate pause of progress: an expansion's deadline (then it is
  // dead-lettered) plus a takeover's bound.
  stateDir: text('PROCESSOR_STATE_DIR', {
    default: DEFAULT_STATE_DIR,
    description:
      "where the processor's state database lives (`<dir>/<group>/<topic>/`, RocksDB, every assigned partition's store in it; one processor per directory). Keep it across restarts (a volume): a partition restored on the same disk reads only the changelog tail; on an empty disk it reads the whole changelog",
    readBy: PROCESSOR,
    accepts: 'directory',
  }),
  stateCacheEntries: integer('PROCESSOR_STATE_CACHE_ENTRIES', {
    default: 10_000,
    min: 0,
    unit: 'entries',
    description:
      'per assigned partition: the in-heap cache of recently read or written dedupe ids and versions, absent ones too, each with where it is on disk, in front of the on-disk store (about 200 bytes each)',
    readBy: PROCESSOR,
  }),
  stateFilterBytes: integer('PROCESSOR_STATE_FILTER_BYTES', {
    default: DEFAULT_FILTER_BYTES,
    min: 0,
    unit: 'bytes',
    description:
      "per instance: the in-heap membership filters of the state store's time segments, which spare disk reads of keys a segment does not hold (about 1.25 bytes per entry by their sizing; the default covers roughly 20 million, computed, not measured). When spent, the newest segments go without a filter and are read for every key; `0`: no filters",
    readBy: PROCESSOR,
  }),
  // 100 (V8's factor 2): V8's own factor reaches 4 under a heap limit of 2 GB or more, and a flat-out
  // drain's garbage then set the processor's RSS, not its state (a 2 M drain: 610-682 MB peak, 470-565 MB
  // just after it, by when V8 had last collected). With 100: 494-523 MB peak and 416-436 after, at the cost of
  // more collections (benchmarks.md, "Rounds, not the store").
  heapGrowingPercent: integer('PROCESSOR_HEAP_GROWING_PERCENT', {
    default: 100,
    min: 0,
    max: 1000,
    unit: 'percent',
    description:
      "how far V8 lets the processor's heap grow past what survived its last full collection before collecting again (V8's `--heap-growing-percent`, set by `nylas-stream processor` at start): 100 = to twice that; `0` = V8's own choice (up to four times with a heap limit of 2 GB or more). Lower: less memory, more CPU",
    readBy: PROCESSOR,
  }),
  optimizeForSize: flag('PROCESSOR_OPTIMIZE_FOR_SIZE', {
    default: false,
    description:
      'V8\'s `--optimize-for-size`, set by `nylas-stream processor` at start: every full collection then also gives back the heap pages V8 would keep for reuse (Node 24). Holds a flat-out 2 M drain under 512 MB on Node 24 (487-496 MB peak against 548-560), for fewer events/s; see docs/operations.md, "Processor memory"',
    readBy: PROCESSOR,
  }),
  idleMemoryRelease: durationVariable('PROCESSOR_IDLE_MEMORY_RELEASE', {
    default: 10_000,
    min: 0,
    description:
      'after handling records, the processor asks V8 for a memory-reducing collection once it has handled none for this long, giving back the heap pages V8 keeps pooled (processors/heap.ts); `0` = never',
    readBy: PROCESSOR,
  }),
  stallTimeout: durationVariable('PROCESSOR_STALL_TIMEOUT', {
    default: 10 * 60_000,
    min: 1000,
    description:
      '`/healthz` answers 503 when an assigned partition has not advanced this long while records wait',
    readBy: PROCESSOR,
  }),
};

export const PROCESSOR_SECTION: ConfigSection = {
  title: 'Processor',
  intro: '`nylas-stream processor`, besides the shared variables (it requires `NYLAS_API_KEY`).',
  prefixes: ['PROCESSOR_', 'EXPANSION_', 'BACKFILL_'],
  variables: Object.values(PROCESSOR_VARIABLES),
};

/** Everything the processor reads: what its start-up checks the environment against. */
export const PROCESSOR_SECTIONS: readonly ConfigSection[] = [SHARED_SECTION, PROCESSOR_SECTION];

/**
 * DEDUPE_WINDOW and ACCEPT_WINDOW, read together because one bounds the other: a notification may be
 * accepted only while every state entry that could contradict it still exists, so ACCEPT_WINDOW must be
 * shorter than DEDUPE_WINDOW (the difference is how far a `time` may run ahead of our clock). Also read by
 * `replay` and `redrive`, which count and refuse what the processor would refuse.
 */
export function loadWindowConfig(env: Env = process.env): AcceptWindow {
  const dedupeWindowMs = PROCESSOR_VARIABLES.dedupeWindow.read(env);
  const acceptWindowMs = PROCESSOR_VARIABLES.acceptWindow.read(env) ?? defaultAcceptWindowMs(dedupeWindowMs);
  if (acceptWindowMs >= dedupeWindowMs) {
    throw new ConfigError(
      'ACCEPT_WINDOW',
      `must be shorter than DEDUPE_WINDOW (${dedupeWindowMs} ms): a notification accepted after its state entries expired could bring back the past`,
    );
  }
  return { dedupeWindowMs, acceptWindowMs };
}

/** `max` read after `base`, and refused when smaller. */
function backoff(env: Env, base: Variable<number>, max: Variable<number>): { baseMs: number; maxMs: number } {
  const baseMs = base.read(env);
  const maxMs = max.read(env);
  if (maxMs < baseMs) throw new ConfigError(max.name, `must be >= ${base.name} (${baseMs} ms)`);
  return { baseMs, maxMs };
}

function loadBackfillConfig(env: Env): BackfillConfig {
  const v = PROCESSOR_VARIABLES;
  const concurrency = v.backfillConcurrency.read(env);
  const expansion = v.expansionConcurrency.read(env);
  if (concurrency >= expansion && expansion > 1)
    throw new ConfigError(
      'BACKFILL_CONCURRENCY',
      `must be smaller than EXPANSION_CONCURRENCY (${expansion}): backfill list calls share its slots, and truncated messages must keep some`,
    );
  return {
    horizonMs: v.backfillHorizon.read(env),
    historyDays: v.backfillHistoryDays.read(env),
    concurrency: Math.min(concurrency, expansion),
    pageSize: v.backfillPageSize.read(env),
  };
}

export function loadProcessorConfig(env: Env = process.env): Readonly<ProcessorConfig> {
  const v = PROCESSOR_VARIABLES;
  const common = loadCommonConfig(env);
  const nylas = loadNylasApiConfig(
    env,
    'required: the processor fetches truncated messages through the Nylas API (Dashboard → API Keys)',
  );
  const expansionBackoff = backoff(env, v.expansionBackoffBase, v.expansionBackoffMax);
  const retryBackoff = backoff(env, v.retryBackoffBase, v.retryBackoffMax);
  return deepFreeze({
    ...common,
    groupId: v.groupId.read(env),
    nylas,
    ...loadWindowConfig(env),
    reorderWindowMs: v.reorderWindow.read(env),
    expansion: {
      concurrency: v.expansionConcurrency.read(env),
      deadlineMs: v.expansionDeadline.read(env),
      requestTimeoutMs: v.expansionRequestTimeout.read(env),
      backoffBaseMs: expansionBackoff.baseMs,
      backoffMaxMs: expansionBackoff.maxMs,
      deferAfterMs: v.expansionDeferAfter.read(env),
      maxHeldBytes: v.expansionMaxHeldBytes.read(env),
    },
    backfill: loadBackfillConfig(env),
    metricsPort: v.metricsPort.read(env),
    maxQueuedRecords: v.maxQueuedRecords.read(env),
    maxQueuedBytes: v.maxQueuedBytes.read(env),
    maxQueuedBytesTotal: v.maxQueuedBytesTotal.read(env),
    maxRecordsPerTransaction: v.maxRecordsPerTransaction.read(env),
    maxBytesPerPartition: v.maxBytesPerPartition.read(env),
    maxBytesPerFetch: v.maxBytesPerFetch.read(env),
    sessionTimeoutMs: v.sessionTimeout.read(env),
    rejoinTimeoutMs: v.rejoinTimeout.read(env),
    transactionTimeoutMs: v.transactionTimeout.read(env),
    poisonAttempts: v.poisonAttempts.read(env),
    retryBackoffBaseMs: retryBackoff.baseMs,
    retryBackoffMaxMs: retryBackoff.maxMs,
    takeoverTimeoutMs: v.takeoverTimeout.read(env),
    lagIntervalMs: v.lagInterval.read(env),
    stallTimeoutMs: v.stallTimeout.read(env),
    state: {
      dir: v.stateDir.read(env) ?? DEFAULT_STATE_DIR,
      cacheEntries: v.stateCacheEntries.read(env),
      filterBytes: v.stateFilterBytes.read(env),
    },
    heapGrowingPercent: v.heapGrowingPercent.read(env),
    optimizeForSize: v.optimizeForSize.read(env),
    idleMemoryReleaseMs: v.idleMemoryRelease.read(env),
  });
}
