/**
 * The one-pass Produce encoder writes exactly the bytes kafkajs's own does: randomized requests (keys,
 * values and headers as strings, Buffers, null; multi-byte UTF-8; timestamps as strings, numbers or
 * missing, out of order and far apart; several topics and partitions; transactional or not) are encoded
 * by an unpatched kafkajs and by ours and compared byte for byte. What ours does not encode itself it
 * hands to kafkajs, with the same outcome.
 */
import { loadCrc32c } from '../../../../lib/kafkajs/native-crc32c';
import { createProduceEncoder, installProduceEncoder } from '../../../../lib/kafkajs/produce-encoder';

type Request = { apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
type Factory = (o: Record<string, unknown>) => Request;

// Fresh, unpatched kafkajs modules for the reference.
type LongClass = { fromValue(v: unknown): unknown; fromNumber(v: number): unknown };
const kafkajs = {
  reference: undefined as unknown as Factory,
  Encoder: undefined as unknown,
  Long: undefined as unknown as LongClass,
};
jest.isolateModules(() => {
  kafkajs.reference = require('kafkajs/src/protocol/requests/produce/v3/request') as Factory;
  kafkajs.Encoder = require('kafkajs/src/protocol/encoder');
  kafkajs.Long = require('kafkajs/src/utils/long') as LongClass;
});
const { reference, Encoder, Long } = kafkajs;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOISE = (() => {
  const r = rng(99);
  return Buffer.from(Array.from({ length: 300_000 }, () => Math.floor(r() * 256)));
})();

function randomRequest(seed: number): Record<string, unknown> {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const text = (n: number) =>
    Array.from({ length: n }, () => pick(['a', 'Z', '0', ' ', 'é', '€', '😀', '\u0000', '"'])).join('');
  const bytes = (n: number) => {
    const at = Math.floor(r() * (NOISE.length - n));
    return Buffer.from(NOISE.subarray(at, at + n)); // a copy: Buffers of their own, as in the producer
  };
  const payload = (): unknown =>
    pick([null, undefined, 'text', 'buffer', 'big']) === 'text'
      ? text(Math.floor(r() * 300))
      : r() < 0.5
        ? bytes(Math.floor(r() * (r() < 0.05 ? 200_000 : 400)))
        : pick([null, undefined, '', Buffer.alloc(0)]);
  const base = 1_795_383_403_193;
  const stamp = (): unknown =>
    pick([
      undefined,
      String(base + Math.floor(r() * 5000)),
      base - Math.floor(r() * 5000),
      String(base + 2 ** 31),
      9,
    ]);
  const message = () => {
    const headers: Record<string, unknown> = {};
    const n = Math.floor(r() * 6);
    for (let i = 0; i < n; i++) {
      const name = pick(['event-type', 'nylas-notification-id', 'ü-header', 'x', text(3)]);
      headers[name] = r() < 0.2 ? [text(5), bytes(3)] : r() < 0.5 ? text(Math.floor(r() * 40)) : bytes(9);
    }
    const m: Record<string, unknown> = { key: payload(), value: payload() };
    if (r() < 0.8) m.headers = headers;
    const t = stamp();
    if (t !== undefined) m.timestamp = t;
    return m;
  };
  const topics = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, t) => ({
    topic: pick(['nylas.email.messages', 'nylas.processor.state', `tø-${t}`]),
    partitions: Array.from({ length: 1 + Math.floor(r() * 3) }, (_, p) => ({
      partition: p * 3,
      ...(r() < 0.7 ? { firstSequence: Math.floor(r() * 1e6) } : {}),
      messages: Array.from({ length: 1 + Math.floor(r() * (r() < 0.2 ? 300 : 20)) }, message),
    })),
  }));
  return {
    acks: pick([-1, 1, 0]),
    timeout: 30_000,
    ...(r() < 0.7
      ? { transactionalId: pick(['tx-1', 'nylas-stream-processor-nylas.webhooks.raw-11', '']) }
      : {}),
    ...(r() < 0.8 ? { producerId: pick([4242, Long.fromNumber(2 ** 40 + 7), '99']) } : {}),
    ...(r() < 0.8 ? { producerEpoch: Math.floor(r() * 30) } : {}),
    compression: 0,
    topicData: topics,
  };
}

const ours = createProduceEncoder({
  Encoder: Encoder as never,
  Long: Long as never,
  crc32c: loadCrc32c().crc32c,
  fallback: (a) => reference(a as never) as never,
});

async function both(args: Record<string, unknown>): Promise<[Buffer | Error, Buffer | Error]> {
  const run = async (f: Factory) => {
    try {
      return (await f(args).encode()).buffer;
    } catch (err) {
      return err as Error;
    }
  };
  return [await run(reference), await run(ours as unknown as Factory)];
}

describe('one-pass kafkajs Produce encoder', () => {
  let now: jest.SpyInstance;
  beforeEach(() => {
    now = jest.spyOn(Date, 'now').mockReturnValue(1_795_383_409_000);
  });
  afterEach(() => now.mockRestore());

  it('uses the native CRC-32C, equal to kafkajs’s', () => {
    const { crc32c, native } = loadCrc32c();
    expect(native).toBe(true);
    const js = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
    for (const n of [0, 1, 7, 64, 4099, 1_300_000]) {
      const b = Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + n) % 256));
      expect(crc32c(b)).toBe(js(b));
    }
  });

  it('encodes 150 random requests byte for byte as kafkajs does', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const [expected, actual] = await both(randomRequest(seed));
      expect(expected).toBeInstanceOf(Buffer);
      expect(actual).toBeInstanceOf(Buffer);
      if (!(expected as Buffer).equals(actual as Buffer)) throw new Error(`seed ${seed}: bytes differ`);
      compared += (expected as Buffer).length;
    }
    expect(compared).toBeGreaterThan(1_000_000);
  });

  it('hands what it does not encode itself to kafkajs, with the same outcome', async () => {
    const request = (messages: unknown[], extra: Record<string, unknown> = {}) => ({
      acks: -1,
      timeout: 1000,
      topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }],
      ...extra,
    });
    const cases = [
      request([{ key: 'k', value: 'v' }], { compression: 1 }), // gzip
      request([{ key: 7, value: 'v' }]), // a number key: kafkajs throws
      request([{ key: 'k', value: 'v', headers: { h: undefined } }]), // kafkajs throws
      request([]), // an empty batch
    ];
    for (const c of cases) {
      const [expected, actual] = await both(c);
      if (expected instanceof Error) expect(String(actual)).toBe(String(expected));
      else expect(actual).toEqual(expected);
    }
  });

  it('is installed for every Produce version kafkajs may negotiate against a modern broker', () => {
    expect(installProduceEncoder()).toEqual({ name: 'produce-encoder', active: true });
    expect(installProduceEncoder()).toEqual({ name: 'produce-encoder', active: true });
    const produce = require('kafkajs/src/protocol/requests/produce') as {
      protocol(o: { version: number }): (a: Record<string, unknown>) => { request: Request };
    };
    for (const v of [3, 4, 5, 6, 7]) {
      const req = produce.protocol({ version: v })(randomRequest(v)).request;
      expect(req?.apiVersion).toBe(v);
      expect(req?.encode.toString()).toContain('planned');
    }
  });
});
