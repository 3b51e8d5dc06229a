/**
 * Encodes kafkajs's uncompressed Produce requests (v3–v7: one wire format) into one buffer, in one pass,
 * with a native CRC-32C, instead of kafkajs's nested encoders.
 *
 * Why: in the processor's CPU profile (`npm run bench -- --quick --only processor --processor-records
 * 100000 --profile processor`, realistic mix) encoding Produce requests was a large share of the main
 * thread (figures in docs/benchmarks.md), and the main thread is what bounds the processor. kafkajs 2.2.4 writes every record's value into the
 * record's own Encoder, then copies that into the batch body, the body into the batch, the batch into a
 * length-prefixed copy, that into the partition entry, the topic entry and the request: seven copies,
 * each into a fresh buffer, before request.js adds the header (two more). It then checksums
 * the batch with a byte-at-a-time JavaScript CRC-32C, an order of magnitude slower than @node-rs/crc32.
 * An expanded message of more than 1 MB paid all of that.
 *
 * What: the same bytes, computed once. Sizes are summed first, one buffer is allocated, every field is
 * written in place (one copy of each value; request.js's two remain) and the CRC is taken over the batch
 * body where it lies. The result is handed back as
 * a kafkajs Encoder, so request.js frames it as before. Anything outside the common case (compression,
 * a key, value or header that is not a string or Buffer, an empty partition) goes to kafkajs's own
 * encoder. test/unit/lib/kafkajs/produce-encoder.test.ts compares whole requests with kafkajs's byte for
 * byte. The request modules are replaced in require's cache: kafkajs looks `./v<N>/request` up there on
 * every produce (requests/produce/index.js), so the change applies whenever it is installed. Only on the
 * pinned kafkajs version (lib/kafkajs/version.ts).
 */
import { type AdaptationStatus, installOnce } from './adaptation';
import { loadCrc32c } from './native-crc32c';

type Value = Buffer | string | null | undefined;

interface ProduceMessage {
  key?: Value;
  value: Value;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | undefined>;
  timestamp?: string | number;
}

interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: ProduceMessage[];
}

interface TopicData {
  topic: string;
  partitions: PartitionData[];
}

interface LongLike {
  getHighBits(): number;
  getLowBits(): number;
}

interface ProduceArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: LongLike | number | string;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}

interface ProduceRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse: () => boolean;
  encode: () => Promise<unknown>;
}

type RequestFactory = (args: ProduceArgs) => ProduceRequest;

interface LongClass {
  fromValue(v: unknown): LongLike;
  fromInt(v: number): LongLike;
}

interface EncoderClass {
  new (): { buf: Buffer; offset: number; writeVarLong(v: number): unknown };
  sizeOfVarInt(value: number): number;
  sizeOfVarLong(value: number): number;
}

/** The batch's attributes: bit 4 = transactional; no compression, create-time timestamps. */
const TRANSACTIONAL_MASK = 16;
const MAGIC_BYTE = 2;
const VARINT_MINUS_ONE = 1; // zigzag(-1) = 1: one byte

function byteLength(v: Buffer | string): number {
  return typeof v === 'string' ? Buffer.byteLength(v, 'utf8') : v.length;
}

function supported(v: unknown): v is Buffer | string {
  return typeof v === 'string' || Buffer.isBuffer(v);
}

interface PlannedRecord {
  key: Value;
  keyLength: number;
  value: Value;
  valueLength: number;
  headers: Array<[string, number, Buffer | string, number]>;
  timestampDelta: number;
  /** Size of the record after its own length varint. */
  bodySize: number;
}

interface PlannedPartition {
  partition: number;
  firstSequence: number;
  firstTimestamp: string | number;
  maxTimestamp: string | number;
  records: PlannedRecord[];
  /** Bytes of the batch body (attributes to the last record), what the CRC covers. */
  bodySize: number;
}

/** A timestamp delta whose varlong is its 32-bit varint (the common case: 0); kafkajs's Long path (64-bit
 * arithmetic on objects) otherwise. */
function isSmallDelta(d: number): boolean {
  return Number.isInteger(d) && d > -(2 ** 30) && d < 2 ** 30;
}

export function createProduceEncoder(deps: {
  Encoder: EncoderClass;
  Long: LongClass;
  crc32c: (b: Buffer) => number;
  fallback: RequestFactory;
}): RequestFactory {
  const { Encoder, Long, crc32c, fallback } = deps;
  const sizeOfVarInt = (value: number) => Encoder.sizeOfVarInt(value);
  const sizeOfVarLong = (d: number) => (isSmallDelta(d) ? Encoder.sizeOfVarInt(d) : Encoder.sizeOfVarLong(d));

  /** Plans a partition's batch exactly as kafkajs's partitionsEncoder; undefined when it cannot. */
  function planPartition(data: PartitionData): PlannedPartition | undefined {
    const { messages } = data;
    if (!Array.isArray(messages) || messages.length === 0) return undefined;
    const dateNow = Date.now();
    // kafkajs sorts the timestamps without a comparator (as strings); the same here, for the same bytes.
    const stamps = messages
      .map((m) => m.timestamp)
      .filter((t) => t != null)
      .sort() as Array<string | number>;
    const timestamps = stamps.length === 0 ? [dateNow] : stamps;
    const firstTimestamp = timestamps[0] as string | number;
    const maxTimestamp = timestamps[timestamps.length - 1] as string | number;
    const records: PlannedRecord[] = [];
    let bodySize = 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4; // attributes … firstSequence, record count
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as ProduceMessage;
      const { key, value } = m;
      if (key != null && !supported(key)) return undefined;
      if (value != null && !supported(value)) return undefined;
      const timestampDelta = ((m.timestamp || dateNow) as number) - (firstTimestamp as number);
      if (typeof timestampDelta !== 'number' || Number.isNaN(timestampDelta)) return undefined;
      const keyLength = key == null ? -1 : byteLength(key);
      const valueLength = value == null ? -1 : byteLength(value);
      const headers: PlannedRecord['headers'] = [];
      let headersSize = 0;
      const h = m.headers ?? {};
      for (const name of Object.keys(h)) {
        const hv = h[name];
        const values = Array.isArray(hv) ? hv : [hv];
        for (const one of values) {
          if (!supported(one)) return undefined;
          const nameLength = Buffer.byteLength(name, 'utf8');
          const oneLength = byteLength(one);
          headers.push([name, nameLength, one, oneLength]);
          headersSize += sizeOfVarInt(nameLength) + nameLength + sizeOfVarInt(oneLength) + oneLength;
        }
      }
      headersSize += sizeOfVarInt(headers.length);
      const recordBody =
        1 +
        sizeOfVarLong(timestampDelta) +
        sizeOfVarInt(i) +
        (keyLength < 0 ? VARINT_MINUS_ONE : sizeOfVarInt(keyLength) + keyLength) +
        (valueLength < 0 ? VARINT_MINUS_ONE : sizeOfVarInt(valueLength) + valueLength) +
        headersSize;
      records.push({ key, keyLength, value, valueLength, headers, timestampDelta, bodySize: recordBody });
      bodySize += sizeOfVarInt(recordBody) + recordBody;
    }
    return {
      partition: data.partition,
      firstSequence: data.firstSequence ?? 0,
      firstTimestamp,
      maxTimestamp,
      records,
      bodySize,
    };
  }

  return function produceRequest(args: ProduceArgs): ProduceRequest {
    const { acks, timeout, compression = 0, topicData } = args;
    const transactionalId = args.transactionalId ?? null;
    if (compression !== 0) return fallback(args);
    // kafkajs's defaults (parameters: undefined only).
    const producerId = Long.fromValue(args.producerId === undefined ? Long.fromInt(-1) : args.producerId);
    const producerEpoch = args.producerEpoch === undefined ? 0 : args.producerEpoch;
    return {
      apiKey: 0,
      apiVersion: 3,
      apiName: 'Produce',
      expectResponse: () => acks !== 0,
      encode: async () => {
        const planned: Array<{ topic: string; topicLength: number; partitions: PlannedPartition[] }> = [];
        const txLength = transactionalId === null ? -1 : Buffer.byteLength(transactionalId, 'utf8');
        let size = 2 + Math.max(0, txLength) + 2 + 4 + 4;
        for (const t of topicData) {
          const partitions: PlannedPartition[] = [];
          for (const p of t.partitions) {
            const plan = planPartition(p);
            if (!plan) return fallback(args).encode();
            partitions.push(plan);
            // partition, batch size, first offset, batch length, leader epoch, magic, crc, body
            size += 4 + 4 + 8 + 4 + 4 + 1 + 4 + plan.bodySize;
          }
          const topicLength = Buffer.byteLength(t.topic, 'utf8');
          size += 2 + topicLength + 4;
          planned.push({ topic: t.topic, topicLength, partitions });
        }

        const buf = Buffer.allocUnsafe(size);
        let o = 0;
        // kafkajs's writeVarInt, written in place (its own builds a Buffer from an array per varint).
        const varint = (value: number) => {
          let v = (value << 1) ^ (value >> 31);
          while ((v & 0xffffff80) !== 0) {
            buf[o++] = (v & 0x7f) | 0x80;
            v >>>= 7;
          }
          buf[o++] = v & 0x7f;
        };
        const int64 = (value: unknown) => {
          const l = Long.fromValue(value);
          o = buf.writeInt32BE(l.getHighBits(), o);
          o = buf.writeInt32BE(l.getLowBits(), o);
        };
        const bytes = (v: Buffer | string, length: number) => {
          varint(length);
          if (typeof v === 'string') o += buf.write(v, o, length, 'utf8');
          else o += v.copy(buf, o);
        };

        o = buf.writeInt16BE(txLength, o);
        if (transactionalId !== null) o += buf.write(transactionalId, o, txLength, 'utf8');
        o = buf.writeInt16BE(acks, o);
        o = buf.writeInt32BE(timeout, o);
        o = buf.writeInt32BE(planned.length, o);
        for (const t of planned) {
          o = buf.writeInt16BE(t.topicLength, o);
          o += buf.write(t.topic, o, t.topicLength, 'utf8');
          o = buf.writeInt32BE(t.partitions.length, o);
          for (const p of t.partitions) {
            const batchLength = 4 + 1 + 4 + p.bodySize;
            o = buf.writeInt32BE(p.partition, o);
            o = buf.writeInt32BE(8 + 4 + batchLength, o); // the record batch's encoded size
            o = buf.writeInt32BE(0, o); // first offset (int64 0)
            o = buf.writeInt32BE(0, o);
            o = buf.writeInt32BE(batchLength, o);
            o = buf.writeInt32BE(0, o); // partition leader epoch
            o = buf.writeInt8(MAGIC_BYTE, o);
            const crcAt = o;
            o += 4;
            const bodyStart = o;
            o = buf.writeInt16BE(transactionalId ? TRANSACTIONAL_MASK : 0, o);
            o = buf.writeInt32BE(p.records.length - 1, o);
            int64(p.firstTimestamp);
            int64(p.maxTimestamp);
            o = buf.writeInt32BE(producerId.getHighBits(), o);
            o = buf.writeInt32BE(producerId.getLowBits(), o);
            o = buf.writeInt16BE(producerEpoch, o);
            o = buf.writeInt32BE(p.firstSequence, o);
            o = buf.writeInt32BE(p.records.length, o);
            for (let i = 0; i < p.records.length; i++) {
              const r = p.records[i] as PlannedRecord;
              varint(r.bodySize);
              buf[o++] = 0; // record attributes
              const d = r.timestampDelta;
              if (isSmallDelta(d)) varint(d);
              else {
                const e = new Encoder();
                e.writeVarLong(d);
                o += e.buf.copy(buf, o, 0, e.offset);
              }
              varint(i);
              if (r.keyLength < 0) varint(-1);
              else bytes(r.key as Buffer | string, r.keyLength);
              if (r.valueLength < 0) varint(-1);
              else bytes(r.value as Buffer | string, r.valueLength);
              varint(r.headers.length);
              for (const [name, nameLength, hv, hvLength] of r.headers) {
                bytes(name, nameLength);
                bytes(hv, hvLength);
              }
            }
            buf.writeUInt32BE(crc32c(buf.subarray(bodyStart, o)), crcAt);
          }
        }
        if (o !== size) throw new Error(`produce request encoded ${o} bytes, planned ${size}`);
        const encoder = new Encoder();
        encoder.buf = buf;
        encoder.offset = size;
        return encoder;
      },
    };
  };
}

/** A module's record in require's cache, where kafkajs looks its produce request factories up. */
interface ModuleRecord {
  exports: unknown;
}

function isRequestModule(value: unknown): value is ModuleRecord & { exports: RequestFactory } {
  return typeof value === 'object' && value !== null && typeof Reflect.get(value, 'exports') === 'function';
}

function requestModule(version: number): ModuleRecord | undefined {
  const path = require.resolve(`kafkajs/src/protocol/requests/produce/v${version}/request`);
  require(path);
  return require.cache[path];
}

export interface ProduceEncoderOptions {
  /** The require-cache record of kafkajs's Produce v3 request, or a test's stand-in. */
  v3Module?: unknown;
  kafkajsVersion?: string;
}

/**
 * Installs the encoder (once per process: the v3 module record is the key) and says whether it is
 * active. Whether its CRC-32C is the native one is lib/kafkajs/native-crc32c.ts's status.
 */
export function installProduceEncoder(options: ProduceEncoderOptions = {}): AdaptationStatus {
  return installOnce({
    name: 'produce-encoder',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.v3Module ?? requestModule(3),
    check: isRequestModule,
    refused: "kafkajs's Produce v3 request module does not export a request factory",
    apply: (v3) => {
      const Encoder: EncoderClass = require('kafkajs/src/protocol/encoder');
      const Long: LongClass = require('kafkajs/src/utils/long');
      const encode = createProduceEncoder({
        Encoder,
        Long,
        crc32c: loadCrc32c().crc32c,
        fallback: v3.exports,
      });
      const records = new Map<number, ModuleRecord>([[3, v3]]);
      for (const version of [4, 5, 6, 7]) {
        const record = requestModule(version);
        // Checked before anything is replaced, so a failure leaves kafkajs as published.
        if (!record) throw new Error(`kafkajs has no Produce v${version} request module`);
        records.set(version, record);
      }
      for (const [version, record] of records) {
        // v4–v7 are v3's wire format with another apiVersion (kafkajs's own v4–v7 modules say the same).
        record.exports = (args: ProduceArgs) => Object.assign(encode(args), { apiVersion: version });
      }
    },
  });
}
