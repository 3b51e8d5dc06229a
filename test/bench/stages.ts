/**
 * CPU per record of each processor stage, in one process, without Kafka (what `--profile processor`
 * shows spread over kafkajs and the event loop, here stage by stage). Records are built exactly as the
 * ingress writes them, from the simulator's generator (no >1 MB messages: expansion is I/O, not CPU);
 * 5% are Nylas re-deliveries. Each stage runs over the whole set in rounds of `--round` records against
 * one store, like a partition worker; the kafkajs column encodes the produced messages into a record
 * batch the way the producer does (headers included). The store is the real on-disk one (RocksDB in a
 * temporary directory, the default hot-set cache): dedupe and order read it, and `state apply` is the
 * write the worker does after each commit.
 *
 *   node dist/bench/test/bench/stages.js [--records 50000] [--round 500] [--repeat 5] [--stock-kafkajs]
 *
 * Prints µs/record per stage, the median of the repeats.
 */
import type { Message } from 'kafkajs';
import { loadTopicsConfig } from '../../lib/config';
import { objectKeyString } from '../../processors/object-identity';
import { stateChangesOf } from '../../processors/pipeline';
import { decodeBatch } from '../../processors/stages/decode';
import { dedupe } from '../../processors/stages/dedupe';
import { normalize } from '../../processors/stages/normalize';
import { order } from '../../processors/stages/order';
import { DomainEventEncoder } from '../../processors/stages/publish';
import type { DomainEvent, RawRecord } from '../../processors/types';
import { DOMAIN_SCHEMA_TOPICS, loadDomainSchemas } from '../../schemas/index';

const TOPICS = loadTopicsConfig({});

import { installEncoderBuffers } from '../../lib/kafkajs/encoder-buffers';
import { createWorld, NotificationGenerator, Random } from '../../simulator';
import { closeTestStores, openTestStore } from '../helpers/state-store';
import { ingressRecord } from './load/preload';

// kafkajs's own record-batch encoder (what Producer.send runs per message); not part of its typed API.
// biome-ignore lint/suspicious/noExplicitAny: internal module of kafkajs, used for measurement only
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as any;
// biome-ignore lint/suspicious/noExplicitAny: as above
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as any;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function rawRecords(count: number): RawRecord[] {
  const world = createWorld({ seed: 20_251_122, grants: 200 });
  const generator = new NotificationGenerator({ world, bodySizes: { largeRate: 0 } });
  const rng = new Random(7);
  const recent: Array<ReturnType<NotificationGenerator['next']>['envelope']> = [];
  const out: RawRecord[] = [];
  for (let i = 0; i < count; i++) {
    let envelope: (typeof recent)[number];
    if (recent.length > 0 && rng.chance(0.05)) {
      const original = rng.pick(recent);
      envelope = { ...original, webhook_delivery_attempt: original.webhook_delivery_attempt + 1 };
    } else {
      envelope = generator.next().envelope;
      recent.push(envelope);
      if (recent.length > 2000) recent.shift();
    }
    const m = ingressRecord(envelope, 'bench-secret');
    out.push({
      topic: TOPICS.raw,
      partition: 0,
      offset: String(i),
      key: m.key === null || m.key === undefined ? null : Buffer.from(m.key),
      value: m.value as Buffer,
      headers: m.headers ?? {},
      timestamp: String(Date.now()),
    });
  }
  return out;
}

type Stage =
  | 'decode'
  | 'state prefetch'
  | 'dedupe'
  | 'order'
  | 'normalize'
  | 'encode'
  | 'kafkajs batch'
  | 'state apply';
const STAGES: Stage[] = [
  'decode',
  'state prefetch',
  'dedupe',
  'order',
  'normalize',
  'encode',
  'kafkajs batch',
  'state apply',
];

/** The window of the changes applied (stateChangesOf) and of the store's segments. */
const WINDOW_MS = 3_600_000;
/** PROCESSOR_STATE_CACHE_ENTRIES' default (processors/config.ts). */
const CACHE_ENTRIES = 10_000;

async function once(
  records: RawRecord[],
  roundSize: number,
  encoder: DomainEventEncoder,
): Promise<Map<Stage, number>> {
  const ns = new Map<Stage, number>(STAGES.map((s) => [s, 0]));
  const time = <T>(stage: Stage, f: () => T): T => {
    const t0 = process.hrtime.bigint();
    const r = f();
    ns.set(stage, (ns.get(stage) ?? 0) + Number(process.hrtime.bigint() - t0));
    return r;
  };
  const store = await openTestStore(0, { windowMs: WINDOW_MS, cacheEntries: CACHE_ENTRIES, now: Date.now });
  const now = Date.now();
  for (let i = 0; i < records.length; i += roundSize) {
    const round = records.slice(i, i + roundSize);
    const decoded = time('decode', () => decodeBatch(round));
    const p0 = process.hrtime.bigint();
    await store.prefetch(
      decoded.notifications.map((n) => n.envelope.id),
      decoded.notifications.map((n) => objectKeyString(n.object)),
    );
    ns.set('state prefetch', (ns.get('state prefetch') ?? 0) + Number(process.hrtime.bigint() - p0));
    const { unique } = time('dedupe', () => dedupe(decoded.notifications, (id) => store.seen(id, now)));
    const ordered = time('order', () => order(unique, (key) => store.version(key, now)));
    const events = time('normalize', () => {
      const out: DomainEvent[] = [];
      for (const n of ordered.emit) out.push(normalize(n, TOPICS));
      return out;
    });
    const messages = time('encode', () => events.map((e) => encoder.message(e)));
    time('kafkajs batch', () => encodeLikeKafkajs(messages));
    const changes = stateChangesOf(ordered.emit, ordered.versions, now, WINDOW_MS);
    const t0 = process.hrtime.bigint();
    await store.apply(changes);
    ns.set('state apply', (ns.get('state apply') ?? 0) + Number(process.hrtime.bigint() - t0));
  }
  await closeTestStores();
  return ns;
}

/** What kafkajs's producer does per message before the request leaves: Record + RecordBatch encoding. */
function encodeLikeKafkajs(messages: Message[]): void {
  const records = messages.map((m, i) =>
    Record({ key: m.key, value: m.value, headers: m.headers, offsetDelta: i, timestampDelta: 0 }),
  );
  // The batch's own encoding awaits compression; the per-record work above is what scales with n.
  void RecordBatch({ records, compression: 0, firstTimestamp: Date.now(), maxTimestamp: Date.now() });
}

async function main(): Promise<void> {
  // The services encode with kafkajs's Encoder on pooled buffers (lib/kafkajs/encoder-buffers.ts);
  // --stock-kafkajs measures kafkajs as published, for comparison.
  const stock = process.argv.includes('--stock-kafkajs');
  if (!stock) installEncoderBuffers();
  const count = arg('records', 50_000);
  const roundSize = arg('round', 500);
  const repeat = arg('repeat', 5);
  const records = rawRecords(count);
  const ids = new Map<string, number>();
  let id = 1;
  for (const s of loadDomainSchemas())
    ids.set(String(TOPICS[DOMAIN_SCHEMA_TOPICS[s.name as keyof typeof DOMAIN_SCHEMA_TOPICS]]), id++);
  const encoder = new DomainEventEncoder(ids);
  await once(records.slice(0, 5000), roundSize, encoder); // warm-up (JIT)
  const runs: Array<Map<Stage, number>> = [];
  for (let r = 0; r < repeat; r++) runs.push(await once(records, roundSize, encoder));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  let total = 0;
  process.stdout.write(
    `${count} records, rounds of ${roundSize}, median of ${repeat} runs, kafkajs ${stock ? 'as published' : 'with pooled encoder buffers'}\n`,
  );
  for (const s of STAGES) {
    const us = median(runs.map((m) => (m.get(s) ?? 0) / count / 1000));
    total += us;
    process.stdout.write(`${s.padEnd(14)} ${us.toFixed(2).padStart(7)} µs/record\n`);
  }
  process.stdout.write(`${'total'.padEnd(14)} ${total.toFixed(2).padStart(7)} µs/record\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
