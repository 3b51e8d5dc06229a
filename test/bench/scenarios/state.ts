/**
 * Scenario 5, state: the processor's memory, disk and restore with many remembered entries
 * (issue 15: RSS ≤ 512 MB at every size, a restart's restore ≤ 10 s at 50 M entries on the same disk).
 *
 * - Processed: `real` distinct `message.created` notifications (each leaves a dedupe id and an object
 *   version) preloaded into the raw topic and drained by one processor (the real CLI, own process, own
 *   PROCESSOR_STATE_DIR). After the drain: RSS split into anonymous and file-backed memory (the stores are
 *   memory-mapped files), heap used, the stores' disk bytes per entry. Then 2,000 of those notifications
 *   are delivered again (Nylas's retry: same id, next attempt) and must all come out as duplicates with
 *   nothing new on the domain topic. Then the processor is killed (SIGKILL) and started again on the same
 *   directory (a tail restore), and once more on an empty one (a full restore from the changelog).
 * - Preloaded through the changelog: sizes that would take hours to process here are written straight
 *   into the state topic as the processor's own bucket records (load/state-preload.ts); the changelog is
 *   the source of truth, so a processor on an empty directory restores exactly what it would have
 *   written itself. Full restore, then a kill and a restart on the same directory (tail), then a few
 *   thousand new and a few thousand preloaded notification ids through the raw topic: the preloaded ones
 *   must be duplicates, the new ones emitted (the restored state answers).
 *
 * Restore figures come from the processor's own metrics (…_state_restore_seconds, …_state_restores_total
 * and …_state_restored_entries_total by mode); "ready" is from the spawn to the moment every partition
 * had been restored, group join and fencing included.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Message } from 'kafkajs';
import { ServiceProcess } from '../../../cli/up/supervisor';
import { DEFAULT_DEDUPE_WINDOW_MS } from '../../../processors/config';
import { IDLE_RELEASE_MESSAGE } from '../../../processors/heap';
import { logLines } from '../../helpers/log-lines';
import { type BenchContext, freePort, newStateDir, processorNodeFlags } from '../lib/context';
import { groupLag, scenarioTopics, uniqueName } from '../lib/infra';
import { diskUsage, type MemoryStatus, memoryStatus, rssBytes } from '../lib/proc';
import { counter, scrape } from '../lib/prom';
import { round } from '../lib/stats';
import { messageCreated, preloadChangelog, preloadDistinct, rawRecordOf } from '../load/state-preload';
import { outcomesFrom } from './processor';

export interface StateSettings {
  partitions: number;
  /** Distinct notifications processed through the pipeline. */
  real: number;
  grants: number;
  /** Of those, delivered again after the drain. */
  resend: number;
  /** Dedupe ids preloaded through the changelog, one run per size. */
  preloadedSizes: number[];
  /** Per preloaded size: notification ids sent through the raw topic after the restore. */
  probeNew: number;
  probePreloaded: number;
  /** The processor's DEDUPE_WINDOW (its default); preloaded entries expire that long after now. */
  windowMs: number;
  /** Consumer session timeout of these processors: after a SIGKILL the group waits this long before
   * the restarted processor gets the partitions back (not part of any restore figure). */
  sessionTimeoutMs: number;
  drainTimeoutMs: number;
  /** Bound on one start-up, restore included. */
  startTimeoutMs: number;
}

export function stateSettings(quick: boolean, real?: number, sizes?: number[]): StateSettings {
  return {
    partitions: 12,
    real: real ?? (quick ? 200_000 : 2_000_000),
    grants: 500,
    resend: 2000,
    preloadedSizes: sizes ?? (quick ? [1_000_000] : [10_000_000, 50_000_000]),
    probeNew: 3000,
    probePreloaded: 3000,
    windowMs: DEFAULT_DEDUPE_WINDOW_MS,
    sessionTimeoutMs: 10_000,
    drainTimeoutMs: quick ? 600_000 : 3_600_000,
    startTimeoutMs: 3_600_000,
  };
}

export interface RestoreFigures {
  /** Partitions restored, by mode. */
  partitions: { tail: number; full: number };
  /** …_state_restore_seconds summed over the takeovers of this start. */
  seconds: number;
  /** Entries (dedupe ids, versions, bucket bookkeeping) applied from the changelog. */
  entries: number;
  entriesPerSecond: number;
}

export interface ProcessorStart {
  /** Spawn → every partition restored (group join, fencing and restore). */
  readySeconds: number;
  restore: RestoreFigures;
  /** Dedupe ids and versions in the stores once restored (…_state_entries), and, for a full restore,
   * that ÷ its seconds: the applied count above also holds bucket bookkeeping and records applied twice. */
  storeEntries: number;
  storeEntriesPerSecond: number;
  /** RSS peak from spawn to ready, sampled every 200 ms. */
  rssPeakMb: number;
  /** A few seconds after ready. */
  memory: MemoryStatus;
  heapUsedMb: number;
}

export interface StoreFigures {
  /** nylas_stream_processor_state_entries by kind. */
  entries: { dedupe: number; version: number; tombstone: number };
  /** Allocated on disk under the processor's PROCESSOR_STATE_DIR (du). */
  diskBytes: number;
  /** The files' apparent size. */
  apparentBytes: number;
  /** Allocated bytes ÷ entries. */
  bytesPerEntry: number;
}

export interface ProcessedResult {
  notifications: number;
  preloadSeconds: number;
  preloadBytes: number;
  drainSeconds: number;
  eventsPerSecond: number;
  /** The draining processor: RSS peak during the drain, memory and store after it. */
  drainRssPeakMb: number;
  afterDrain: {
    memory: MemoryStatus;
    heapUsedMb: number;
    /** V8's heap as committed (used + what V8 keeps for allocation) and memory outside it that V8 tracks
     * (Buffers' backing stores): where the RSS beyond the used heap is. */
    heapTotalMb: number;
    externalMb: number;
    store: StoreFigures;
  };
  /** Once idle: the processor gives V8's pooled heap pages back after PROCESSOR_IDLE_MEMORY_RELEASE
   * (processors/heap.ts). `releasedAfterSeconds` is when its log said so, counted from the drain's end
   * (undefined: not within IDLE_RELEASE_WAIT_MS); the memory is read then. Absent in results from before it. */
  idle?: { releasedAfterSeconds: number | undefined; memory: MemoryStatus };
  resend: {
    sent: number;
    /** Increase of the duplicate and emitted outcomes, and of the domain topic's end offsets. */
    duplicates: number;
    emitted: number;
    domainRecordsAdded: number;
    allRecognised: boolean;
  };
  /** Killed (SIGKILL), started again on the same directory. */
  tail: ProcessorStart;
  /** Started on an empty directory (same group, same changelog). */
  full: ProcessorStart;
}

export interface PreloadedResult {
  entries: number;
  changelogRecords: number;
  changelogBytes: number;
  preloadSeconds: number;
  /** Started on an empty directory. */
  full: ProcessorStart;
  store: StoreFigures;
  /** Killed (SIGKILL), started again on the same directory. */
  tail: ProcessorStart;
  probe: { preloadedSent: number; newSent: number; duplicates: number; emitted: number; answered: boolean };
}

export interface StateResult {
  settings: StateSettings;
  /** Absent when run with --state-real 0 (only the preloaded sizes). */
  processed?: ProcessedResult;
  preloaded: PreloadedResult[];
}

const METRIC = {
  heap: 'nylas_stream_nodejs_heap_size_used_bytes',
  heapTotal: 'nylas_stream_nodejs_heap_size_total_bytes',
  external: 'nylas_stream_nodejs_external_memory_bytes',
  restoreSeconds: 'nylas_stream_processor_state_restore_seconds_sum',
  restores: 'nylas_stream_processor_state_restores_total',
  restoredEntries: 'nylas_stream_processor_state_restored_entries_total',
  entries: 'nylas_stream_processor_state_entries',
} as const;

interface Launch {
  service: ServiceProcess;
  name: string;
  metricsUrl: string;
  start: ProcessorStart;
}

/** The processor's environment besides topics: the scenario's group and a state directory. */
interface LaunchOptions {
  name: string;
  topicEnv: Record<string, string>;
  groupId: string;
  stateDir: string;
}

async function launch(ctx: BenchContext, s: StateSettings, o: LaunchOptions): Promise<Launch> {
  const port = await freePort();
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const nodeFlags = processorNodeFlags(ctx, o.name);
  const service = new ServiceProcess({
    name: o.name,
    args: ['processor'],
    env: {
      ...ctx.infra.env,
      ...o.topicEnv,
      PROCESSOR_GROUP_ID: o.groupId,
      PROCESSOR_METRICS_PORT: String(port),
      PROCESSOR_STATE_DIR: o.stateDir,
      PROCESSOR_SESSION_TIMEOUT_MS: String(s.sessionTimeoutMs),
      NYLAS_API_KEY: 'bench-api-key',
      LOG_LEVEL: 'info',
    },
    logDir: ctx.logDir,
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    readyTimeoutMs: s.startTimeoutMs,
    nodeFlags,
  });
  ctx.defer(o.name, () => service.stop(60_000).catch(() => service.kill()));
  const spawned = performance.now();
  let peak = 0;
  const sampler = setInterval(() => {
    const rss = rssBytes(service.pid ?? -1);
    if (rss > peak) peak = rss;
  }, 200);
  let text = '';
  try {
    await service.start();
    // /readyz answers before the group has handed out the partitions (after a SIGKILL it waits for the
    // old member's session to expire): ready here means every partition restored.
    const deadline = Date.now() + s.startTimeoutMs;
    for (;;) {
      text = await scrape(metricsUrl).catch(() => '');
      if (counter(text, METRIC.restores) >= s.partitions) break;
      if (Date.now() > deadline)
        throw new Error(`${o.name}: partitions not all restored; see ${service.logFile}`);
      await sleep(100);
    }
  } finally {
    clearInterval(sampler);
  }
  const readySeconds = (performance.now() - spawned) / 1000;
  await sleep(3000);
  const memory = memoryStatus(service.pid ?? -1);
  const after = await scrape(metricsUrl);
  const seconds = counter(after, METRIC.restoreSeconds);
  const entries = counter(after, METRIC.restoredEntries);
  const storeEntries = counter(after, METRIC.entries);
  const fullPartitions = counter(after, METRIC.restores, 'mode="full"');
  const start: ProcessorStart = {
    readySeconds: round(readySeconds, 2),
    restore: {
      partitions: {
        tail: counter(after, METRIC.restores, 'mode="tail"'),
        full: fullPartitions,
      },
      seconds: round(seconds, 2),
      entries,
      entriesPerSecond: seconds > 0 ? Math.round(entries / seconds) : Number.NaN,
    },
    storeEntries,
    // Only a full restore starts from an empty store.
    storeEntriesPerSecond:
      fullPartitions > 0 && seconds > 0 ? Math.round(storeEntries / seconds) : Number.NaN,
    rssPeakMb: round(Math.max(peak, rssBytes(service.pid ?? -1)) / 1048576),
    memory,
    heapUsedMb: round(counter(after, METRIC.heap) / 1048576),
  };
  ctx.log(
    `state: ${o.name} ready in ${start.readySeconds} s: restore ${JSON.stringify(start.restore)}, ` +
      `rss peak ${start.rssPeakMb} MB, now ${JSON.stringify(memory)}, heap ${start.heapUsedMb} MB`,
  );
  return { service, name: o.name, metricsUrl, start };
}

async function storeFigures(metricsUrl: string, stateDir: string): Promise<StoreFigures> {
  const text = await scrape(metricsUrl);
  const entries = {
    dedupe: counter(text, METRIC.entries, 'kind="dedupe"'),
    version: counter(text, METRIC.entries, 'kind="version"'),
    tombstone: counter(text, METRIC.entries, 'kind="tombstone"'),
  };
  const disk = diskUsage(stateDir);
  const total = entries.dedupe + entries.version + entries.tombstone;
  return {
    entries,
    diskBytes: disk.allocated,
    apparentBytes: disk.apparent,
    bytesPerEntry: total > 0 ? round(disk.allocated / total, 1) : Number.NaN,
  };
}

/** Waits until the group has committed everything on `topic`, logging progress. */
async function drain(ctx: BenchContext, groupId: string, topic: string, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let lastLog = started;
  for (;;) {
    const lag = await groupLag(ctx.infra.admin, groupId, topic).catch(() => Number.POSITIVE_INFINITY);
    if (lag === 0) return (performance.now() - started) / 1000;
    if (performance.now() - lastLog > 30_000) {
      ctx.log(`state: ${groupId}: lag ${lag}`);
      lastLog = performance.now();
    }
    if (performance.now() - started > timeoutMs)
      throw new Error(`${groupId}: lag ${lag} after ${timeoutMs} ms`);
    await sleep(250);
  }
}

async function endOffsets(ctx: BenchContext, topic: string): Promise<number> {
  const offsets = await ctx.infra.admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

async function send(ctx: BenchContext, topic: string, messages: Message[]): Promise<void> {
  const producer = ctx.infra.kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 500)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 500) });
  } finally {
    await producer.disconnect();
  }
}

/** Sends `messages`, waits until they are committed, and returns how the outcomes moved. */
async function deliver(
  ctx: BenchContext,
  o: { topic: string; domainTopic: string; groupId: string; metricsUrl: string; messages: Message[] },
): Promise<{ duplicates: number; emitted: number; domainRecordsAdded: number }> {
  const before = await outcomesFrom(o.metricsUrl);
  const domainBefore = await endOffsets(ctx, o.domainTopic);
  await send(ctx, o.topic, o.messages);
  await drain(ctx, o.groupId, o.topic, 300_000);
  // Outcomes are counted right after each commit; give the last one a moment.
  await sleep(1000);
  const after = await outcomesFrom(o.metricsUrl);
  const delta = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  return {
    duplicates: delta('duplicate'),
    emitted: delta('emitted'),
    domainRecordsAdded: (await endOffsets(ctx, o.domainTopic)) - domainBefore,
  };
}

/** SIGKILL: no chance to flush or to leave the group. */
async function kill(ctx: BenchContext, l: Launch): Promise<void> {
  await l.service.kill();
  await ctx.release(l.name);
}

/** SIGTERM: a clean stop (the group is left at once). */
async function stop(ctx: BenchContext, l: Launch): Promise<void> {
  await l.service.stop(60_000);
  await ctx.release(l.name);
}

/** One run's topics (production plan) and processor group. */
async function runTopics(ctx: BenchContext, s: StateSettings, prefix: string) {
  const topicEnv = await scenarioTopics(ctx.infra, prefix, s.partitions);
  return {
    topicEnv,
    raw: String(topicEnv.TOPIC_RAW),
    stateTopic: String(topicEnv.TOPIC_STATE),
    domain: String(topicEnv.TOPIC_EMAIL_MESSAGES),
    groupId: uniqueName(prefix),
  };
}

async function runProcessed(ctx: BenchContext, s: StateSettings): Promise<ProcessedResult> {
  const { topicEnv, raw, domain, groupId } = await runTopics(ctx, s, 'bench-state');
  const pre = await preloadDistinct(ctx.infra.kafka, {
    topic: raw,
    count: s.real,
    grants: s.grants,
    resend: s.resend,
    log: ctx.log,
  });
  ctx.log(
    `state: preloaded ${pre.records} distinct message.created (${round(pre.bytes / 1048576)} MB) in ${round(pre.seconds)} s`,
  );
  const dir = newStateDir(ctx, 'state-processed');
  const first = await launch(ctx, s, { name: 'state-processor', topicEnv, groupId, stateDir: dir });
  let peak = 0;
  const sampler = setInterval(() => {
    const rss = rssBytes(first.service.pid ?? -1);
    if (rss > peak) peak = rss;
  }, 250);
  let drainSeconds: number;
  try {
    drainSeconds = await drain(ctx, groupId, raw, s.drainTimeoutMs);
  } finally {
    clearInterval(sampler);
  }
  const drainedAt = performance.now();
  const releasesBefore = logLines(first.service.logFile, IDLE_RELEASE_MESSAGE).length;
  await sleep(3000);
  const metrics = await scrape(first.metricsUrl);
  const afterDrain = {
    memory: memoryStatus(first.service.pid ?? -1),
    heapUsedMb: round(counter(metrics, METRIC.heap) / 1048576),
    heapTotalMb: round(counter(metrics, METRIC.heapTotal) / 1048576),
    externalMb: round(counter(metrics, METRIC.external) / 1048576),
    store: await storeFigures(first.metricsUrl, dir),
  };
  ctx.log(`state: drained ${s.real} in ${round(drainSeconds)} s; after: ${JSON.stringify(afterDrain)}`);
  const idle = await idleRelease(first.service, drainedAt, releasesBefore);
  ctx.log(`state: once idle: ${JSON.stringify(idle)}`);
  const resent = await deliver(ctx, {
    topic: raw,
    domainTopic: domain,
    groupId,
    metricsUrl: first.metricsUrl,
    messages: pre.resend,
  });
  const resend = {
    sent: pre.resend.length,
    ...resent,
    allRecognised:
      resent.duplicates === pre.resend.length && resent.emitted === 0 && resent.domainRecordsAdded === 0,
  };
  ctx.log(`state: re-sent ${resend.sent} seen notifications: ${JSON.stringify(resend)}`);

  await kill(ctx, first);
  const again = await launch(ctx, s, { name: 'state-processor-tail', topicEnv, groupId, stateDir: dir });
  await stop(ctx, again);
  const emptyDir = newStateDir(ctx, 'state-processed-new');
  const fresh = await launch(ctx, s, { name: 'state-processor-full', topicEnv, groupId, stateDir: emptyDir });
  await stop(ctx, fresh);
  rmSync(dir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
  return {
    notifications: s.real,
    preloadSeconds: round(pre.seconds),
    preloadBytes: pre.bytes,
    drainSeconds: round(drainSeconds),
    eventsPerSecond: Math.round(s.real / drainSeconds),
    drainRssPeakMb: round(Math.max(peak, first.start.rssPeakMb * 1048576) / 1048576),
    afterDrain,
    idle,
    resend,
    tail: again.start,
    full: fresh.start,
  };
}

/** The default PROCESSOR_IDLE_MEMORY_RELEASE is 10 s, checked every 2.5 s: its log line comes well within this. */
const IDLE_RELEASE_WAIT_MS = 30_000;

/** Waits for a release logged after the drain (one during it, in a stall, does not count). */
async function idleRelease(
  service: ServiceProcess,
  drainedAt: number,
  releasesBefore: number,
): Promise<NonNullable<ProcessedResult['idle']>> {
  const deadline = drainedAt + IDLE_RELEASE_WAIT_MS;
  let releasedAfterSeconds: number | undefined;
  while (performance.now() < deadline) {
    if (logLines(service.logFile, IDLE_RELEASE_MESSAGE).length > releasesBefore) {
      releasedAfterSeconds = round((performance.now() - drainedAt) / 1000);
      break;
    }
    await sleep(500);
  }
  return { releasedAfterSeconds, memory: memoryStatus(service.pid ?? -1) };
}

async function runPreloaded(ctx: BenchContext, s: StateSettings, size: number): Promise<PreloadedResult> {
  const { topicEnv, raw, stateTopic, domain, groupId } = await runTopics(ctx, s, 'bench-state-pre');
  const pre = await preloadChangelog(ctx.infra.kafka, {
    topic: stateTopic,
    partitions: s.partitions,
    entries: size,
    expiresAt: Date.now() + s.windowMs,
    probesPerPartition: Math.ceil(s.probePreloaded / s.partitions),
    log: ctx.log,
  });
  ctx.log(
    `state: ${size} dedupe ids preloaded through the changelog (not processed): ${pre.records} bucket records, ` +
      `${round(pre.bytes / 1048576)} MB in ${round(pre.seconds)} s`,
  );
  const dir = newStateDir(ctx, `state-${size}`);
  const first = await launch(ctx, s, { name: `state-${size}-full`, topicEnv, groupId, stateDir: dir });
  const store = await storeFigures(first.metricsUrl, dir);
  ctx.log(`state: ${size}: store ${JSON.stringify(store)}`);
  await kill(ctx, first);
  const again = await launch(ctx, s, { name: `state-${size}-tail`, topicEnv, groupId, stateDir: dir });

  const messages: Message[] = [];
  let preloadedSent = 0;
  for (const [p, ids] of pre.probes) {
    for (const id of ids) {
      messages.push(
        rawRecordOf(messageCreated({ id, grantId: `grant-probe-${p}`, messageId: `probe-${id}` }), p),
      );
      preloadedSent++;
    }
  }
  const newSent = s.probeNew;
  for (let i = 0; i < newSent; i++) {
    const id = randomUUID();
    messages.push(
      rawRecordOf(
        messageCreated({ id, grantId: `grant-probe-${i % s.partitions}`, messageId: `new-${id}` }),
        i % s.partitions,
      ),
    );
  }
  const outcome = await deliver(ctx, {
    topic: raw,
    domainTopic: domain,
    groupId,
    metricsUrl: again.metricsUrl,
    messages,
  });
  const probe = {
    preloadedSent,
    newSent,
    duplicates: outcome.duplicates,
    emitted: outcome.emitted,
    answered: outcome.duplicates === preloadedSent && outcome.emitted === newSent,
  };
  ctx.log(`state: ${size}: probe ${JSON.stringify(probe)}`);
  await stop(ctx, again);
  rmSync(dir, { recursive: true, force: true });
  return {
    entries: pre.entries,
    changelogRecords: pre.records,
    changelogBytes: pre.bytes,
    preloadSeconds: round(pre.seconds),
    full: first.start,
    store,
    tail: again.start,
    probe,
  };
}

export async function runState(ctx: BenchContext): Promise<StateResult> {
  const s = stateSettings(ctx.quick, ctx.stateReal, ctx.stateSizes);
  const processed = s.real > 0 ? await runProcessed(ctx, s) : undefined;
  const preloaded: PreloadedResult[] = [];
  for (const size of s.preloadedSizes) preloaded.push(await runPreloaded(ctx, s, size));
  return { settings: s, ...(processed ? { processed } : {}), preloaded };
}
