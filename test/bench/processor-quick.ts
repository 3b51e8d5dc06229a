/**
 * The quick processor measurement of issue 5 ("Done when"): events per second through the full
 * processor (decode → dedupe → order → normalize → Avro encode → one transaction per round with domain
 * events, state changelog and offsets) for N preloaded notifications, beside a plain kafkajs
 * transactional passthrough (consume → produce the same bytes → sendOffsets → commit, per fetched batch)
 * over the same preloaded topic, measured in the same run, one after the other, in this process.
 *
 *   node test/helpers/run-ts.js test/bench/processor-quick.ts [--count 100000] [--partitions 12]
 *        [--grants 1000] [--bytes 1500] [--duplicates 0.03] [--runs 1] [--out file.json]
 *
 * Broker and registry: KAFKA_BROKERS / SCHEMA_REGISTRY_URL (default: the local runtime's defaults).
 * The passthrough is given the processor's fetch settings (4 MiB per partition, 500 ms max wait) and cuts
 * produce requests at 512 KiB as the processor does. Each side is timed from its consumer's start until
 * its group's committed offsets reach the end of the topic; the figures include group join and, for the
 * processor, the takeover (fencing, empty restore). No truncated messages: expansion is API-bound and
 * measured elsewhere. Result: test/bench/results/processor-quick-<timestamp>.json and a table on stdout.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Admin, Kafka, Message } from 'kafkajs';
import { loadCommonConfig } from '../../lib/config';
import { createKafka, TRANSACTIONAL_RETRY } from '../../lib/kafka';
import { silentLogger } from '../../lib/logger';
import { createMetricsRegistry } from '../../lib/metrics';
import { domainTopicNames } from '../../lib/topics';
import { loadProcessorConfig } from '../../processors/config';
import { startProcessor } from '../../processors/index';
import { messageNotification, messageObject, rawMessage } from '../helpers/raw-notifications';

const ROOT = join(__dirname, '..', '..');

interface Flags {
  count: number;
  partitions: number;
  grants: number;
  bytes: number;
  duplicates: number;
  runs: number;
  out: string | undefined;
  /** Measure only one side (profiling). */
  only: 'processor' | 'passthrough' | undefined;
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = {
    count: 100_000,
    partitions: 12,
    grants: 1000,
    bytes: 1500,
    duplicates: 0.03,
    runs: 1,
    out: undefined,
    only: undefined,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1] ?? '';
    switch (argv[i]) {
      case '--count':
        f.count = Number(v);
        break;
      case '--partitions':
        f.partitions = Number(v);
        break;
      case '--grants':
        f.grants = Number(v);
        break;
      case '--bytes':
        f.bytes = Number(v);
        break;
      case '--duplicates':
        f.duplicates = Number(v);
        break;
      case '--runs':
        f.runs = Number(v);
        break;
      case '--out':
        f.out = v;
        break;
      case '--only':
        if (v !== 'processor' && v !== 'passthrough') throw new Error('--only processor|passthrough');
        f.only = v;
        break;
      default:
        throw new Error(`unknown flag ${argv[i]}`);
    }
  }
  return f;
}

const MAX_REQUEST_BYTES = 512 * 1024;

function chunks(messages: Message[]): Message[][] {
  const out: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = 64 + ((m.value as Buffer | null)?.length ?? 0) + ((m.key as Buffer | null)?.length ?? 0);
    if (current.length > 0 && bytes + size > MAX_REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

async function endOffsets(admin: Admin, topic: string): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, o) => sum + BigInt(o.high), 0n);
}

/** Polls the group's committed offsets until they reach `total` records; returns the elapsed seconds. */
async function waitCommitted(admin: Admin, groupId: string, topic: string, total: bigint, started: number) {
  for (;;) {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const sum = (t?.partitions ?? []).reduce(
      (s, p) => s + (BigInt(p.offset) > 0n ? BigInt(p.offset) : 0n),
      0n,
    );
    if (sum >= total) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function preload(kafka: Kafka, topic: string, f: Flags): Promise<{ records: number; unique: number }> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const grants = Array.from({ length: f.grants }, (_, i) => `bench-grant-${i}`);
  const body = `<div>${'x'.repeat(Math.max(0, f.bytes - 700))}</div>`;
  let batch: Message[] = [];
  let records = 0;
  let unique = 0;
  const flush = async () => {
    for (const c of chunks(batch)) await producer.send({ topic, acks: -1, messages: c });
    batch = [];
  };
  for (let i = 0; i < f.count; i++) {
    const duplicate = unique > 0 && (i * 7919) % 1000 < f.duplicates * 1000;
    const n = duplicate ? unique - 1 : unique++;
    const g = grants[n % grants.length] as string;
    const action = n % 3 === 0 ? 'created' : 'updated';
    batch.push(
      rawMessage({
        grantId: g,
        receivedAt: Date.now(),
        body: messageNotification(g, {
          id: `bench-${n}`,
          messageId: `m-${n % 20_000}`,
          action,
          time: 1_723_000_000 + n,
          attempt: duplicate ? 2 : 1,
          object: messageObject(g, `m-${n % 20_000}`, { body }),
        }),
      }),
    );
    records++;
    if (batch.length >= 5000) await flush();
  }
  await flush();
  await producer.disconnect();
  return { records, unique };
}

async function passthrough(kafka: Kafka, admin: Admin, input: string, output: string, total: bigint) {
  const groupId = `bench-passthrough-${Date.now()}`;
  const producer = kafka.producer({
    transactionalId: `${groupId}-tx`,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: TRANSACTIONAL_RETRY,
  });
  await producer.connect();
  const consumer = kafka.consumer({
    groupId,
    readUncommitted: false,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 500,
  });
  const started = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (batch.messages.length === 0) return;
      const messages: Message[] = batch.messages.map((m) => ({
        key: m.key,
        value: m.value,
        headers: m.headers,
      }));
      const txn = await producer.transaction();
      try {
        for (const c of chunks(messages)) await txn.send({ topic: output, acks: -1, messages: c });
        await txn.sendOffsets({
          consumerGroupId: groupId,
          topics: [
            {
              topic: batch.topic,
              partitions: [
                { partition: batch.partition, offset: (BigInt(batch.lastOffset()) + 1n).toString() },
              ],
            },
          ],
        });
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
      resolveOffset(batch.lastOffset());
    },
  });
  const cpu0 = process.cpuUsage();
  const seconds = await waitCommitted(admin, groupId, input, total, started);
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `passthrough: ${seconds.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s cpu`,
  );
  await consumer.disconnect();
  await producer.disconnect();
  return seconds;
}

async function processor(
  env: Record<string, string>,
  admin: Admin,
  input: string,
  total: bigint,
  run: number,
) {
  // A fresh state topic per run: restoring an earlier run's changelog would make everything a duplicate.
  const state = `${env.TOPIC_STATE}-${run}`;
  const partitions = Number(env.TOPIC_PARTITIONS);
  await admin.createTopics({
    waitForLeaders: false,
    topics: [
      {
        topic: state,
        numPartitions: partitions,
        replicationFactor: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
    ],
  });
  for (;;) {
    const meta = await admin.fetchTopicMetadata({ topics: [state] }).catch(() => undefined);
    if (
      meta?.topics[0]?.partitions.length === partitions &&
      meta.topics[0].partitions.every((p) => p.leader >= 0)
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const config = loadProcessorConfig({
    ...process.env,
    ...env,
    TOPIC_STATE: state,
    PROCESSOR_GROUP_ID: `bench-processor-${Date.now()}`,
  });
  const registry = createMetricsRegistry({ service: 'bench', collectDefaults: false });
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  if (process.env.BENCH_MARKS) console.log(`MARK start ${process.hrtime.bigint() / 1000n}`);
  const running = await startProcessor(config, { http: false, logger: silentLogger(), registry });
  const seconds = await waitCommitted(admin, config.groupId, input, total, started);
  const cpu = process.cpuUsage(cpu0);
  if (process.env.BENCH_MARKS) console.log(`MARK end ${process.hrtime.bigint() / 1000n}`);
  console.log(`processor: ${seconds.toFixed(2)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s cpu`);
  const counts = await running.metrics.notifications.get();
  await running.stop();
  await admin.deleteTopics({ topics: [state] }).catch(() => undefined);
  const byOutcome: Record<string, number> = {};
  for (const v of counts.values)
    byOutcome[String(v.labels.outcome)] = (byOutcome[String(v.labels.outcome)] ?? 0) + v.value;
  return { seconds, outcomes: byOutcome };
}

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv);
  const common = loadCommonConfig({ ...process.env, LOG_LEVEL: 'silent' });
  const kafka = createKafka(common.kafka, silentLogger(), 'bench');
  const admin = kafka.admin();
  await admin.connect();
  const prefix = `bench-${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    TOPIC_RAW: `${prefix}.raw`,
    TOPIC_DLQ: `${prefix}.dlq`,
    TOPIC_STATE: `${prefix}.state`,
    TOPIC_EMAIL_MESSAGES: `${prefix}.email.messages`,
    TOPIC_EMAIL_FOLDERS: `${prefix}.email.folders`,
    TOPIC_EMAIL_TRACKING: `${prefix}.email.tracking`,
    TOPIC_EMAIL_DELIVERY: `${prefix}.email.delivery`,
    TOPIC_CALENDAR_EVENTS: `${prefix}.calendar.events`,
    TOPIC_CALENDAR_CALENDARS: `${prefix}.calendar.calendars`,
    TOPIC_CONTACTS: `${prefix}.contacts`,
    TOPIC_GRANTS: `${prefix}.grants`,
    TOPIC_UNMODELED: `${prefix}.unmodeled`,
    TOPIC_PARTITIONS: String(f.partitions),
    NYLAS_API_KEY: 'bench',
    LOG_LEVEL: 'silent',
  };
  const topics = loadProcessorConfig({ ...process.env, ...env }).topics;
  const passthroughOut = `${prefix}.passthrough`;
  const all = [topics.raw, topics.dlq, passthroughOut, ...domainTopicNames(topics)];
  await admin.createTopics({
    waitForLeaders: false,
    topics: all.map((topic) => ({
      topic,
      numPartitions: f.partitions,
      replicationFactor: 1,
      configEntries: [],
    })),
  });
  for (;;) {
    const meta = await admin.fetchTopicMetadata({ topics: all }).catch(() => undefined);
    if (
      meta?.topics.every(
        (t) => t.partitions.length === f.partitions && t.partitions.every((p) => p.leader >= 0),
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const loadStarted = Date.now();
  const { records, unique } = await preload(kafka, topics.raw, f);
  const total = await endOffsets(admin, topics.raw);
  console.log(
    `preloaded ${records} notifications (${unique} unique) in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`,
  );

  const runs: Array<{
    passthroughSeconds: number;
    processorSeconds: number;
    outcomes: Record<string, number>;
  }> = [];
  for (let r = 0; r < f.runs; r++) {
    // Alternate the order between runs so neither side always gets the warmer broker.
    let p = Number.NaN;
    let q: { seconds: number; outcomes: Record<string, number> } = { seconds: Number.NaN, outcomes: {} };
    if (f.only === 'processor') q = await processor(env, admin, topics.raw, total, r);
    else if (f.only === 'passthrough') p = await passthrough(kafka, admin, topics.raw, passthroughOut, total);
    else if (r % 2 === 0) {
      p = await passthrough(kafka, admin, topics.raw, passthroughOut, total);
      q = await processor(env, admin, topics.raw, total, r);
    } else {
      q = await processor(env, admin, topics.raw, total, r);
      p = await passthrough(kafka, admin, topics.raw, passthroughOut, total);
    }
    runs.push({ passthroughSeconds: p, processorSeconds: q.seconds, outcomes: q.outcomes });
    console.log(
      `run ${r + 1}: passthrough ${(records / p).toFixed(0)} records/s (${p.toFixed(2)} s), processor ${(records / q.seconds).toFixed(0)} notifications/s (${q.seconds.toFixed(2)} s), ratio ${(p / q.seconds).toFixed(2)}; outcomes ${JSON.stringify(q.outcomes)}`,
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const passthroughRate = records / median(runs.map((r) => r.passthroughSeconds));
  const processorRate = records / median(runs.map((r) => r.processorSeconds));
  const result = {
    benchmark: 'processor-quick',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, loadavg: loadavg() },
    brokers: common.kafka.brokers,
    flags: f,
    records,
    unique,
    runs,
    passthroughRecordsPerSecond: Math.round(passthroughRate),
    processorNotificationsPerSecond: Math.round(processorRate),
    ratio: Number((processorRate / passthroughRate).toFixed(3)),
    target: 0.6,
  };
  const dir = join(ROOT, 'test', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const out = f.out ?? join(dir, `processor-quick-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log('');
  console.log('| side | per second | seconds (median) |');
  console.log('|---|---|---|');
  console.log(
    `| kafkajs transactional passthrough | ${result.passthroughRecordsPerSecond} records | ${median(runs.map((r) => r.passthroughSeconds)).toFixed(2)} |`,
  );
  console.log(
    `| processor (full pipeline) | ${result.processorNotificationsPerSecond} notifications | ${median(runs.map((r) => r.processorSeconds)).toFixed(2)} |`,
  );
  console.log(`ratio ${result.ratio} (target ≥ ${result.target}); written to ${out}`);
  await admin.deleteTopics({ topics: all }).catch(() => undefined);
  await admin.disconnect();
}
