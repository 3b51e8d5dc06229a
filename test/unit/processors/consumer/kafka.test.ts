import {
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSLockTimeout,
  KafkaJSProtocolError,
  type KafkaMessage,
} from 'kafkajs';
import { toRawRecord, transientCrash } from '../../../../processors/consumer/kafka';

type Retrier = (fn: () => Promise<unknown>) => Promise<unknown>;
/** kafkajs's own retrier, so the errors below are wrapped exactly as a consumer's crash carries them. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRetry = require('kafkajs/src/retry') as (o: {
  retries: number;
  initialRetryTime: number;
}) => Retrier;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

/** kafkajs's declarations give these no constructor argument; at run time they take the message. */
const named = (Class: abstract new () => Error, message: string): Error =>
  new (Class as unknown as new (m: string) => Error)(message);

async function crashOf(cause: Error): Promise<unknown> {
  return createRetry({ retries: 0, initialRetryTime: 1 })(() => Promise.reject(cause)).then(
    () => new Error('the retrier did not fail'),
    (err: unknown) => err,
  );
}

describe('which consumer crashes are only "not now" (processors/consumer/kafka.ts)', () => {
  it('the group coordinator not found while a broker restarts (the CI crash of 2026-12-06)', async () => {
    const crash = await crashOf(named(KafkaJSGroupCoordinatorNotFound, 'Failed to find group coordinator'));
    // As logged then: KafkaJSNonRetriableError, not retriable, caused by KafkaJSGroupCoordinatorNotFound.
    expect(crash).toMatchObject({ name: 'KafkaJSNonRetriableError', retriable: false });
    expect(transientCrash(crash)).toBe(true);
  });

  it('what kafkajs itself restarts from: retries run out on a connection error', async () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
    const crash = await createRetry({ retries: 1, initialRetryTime: 1 })(() => Promise.reject(refused)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(crash).toMatchObject({ name: 'KafkaJSNumberOfRetriesExceeded' });
    expect(transientCrash(crash)).toBe(true);
  });

  it('a lock not released in time', async () => {
    expect(transientCrash(await crashOf(named(KafkaJSLockTimeout, 'Timeout while acquiring lock')))).toBe(
      true,
    );
  });

  it('not authorization, nor an error of our own handler', async () => {
    // As kafkajs builds a broker's answer: from its error table (GROUP_AUTHORIZATION_FAILED, not retriable).
    const denied = new KafkaJSProtocolError(createErrorFromCode(30));
    expect(transientCrash(await crashOf(denied))).toBe(false);
    expect(transientCrash(new TypeError('x is undefined'))).toBe(false);
    expect(transientCrash(undefined)).toBe(false);
  });

  it('follows the cause chain to its end, whoever wrapped it', () => {
    const inner = named(KafkaJSGroupCoordinatorNotFound, 'Failed to find group coordinator');
    const middle = new Error('wrapped', { cause: inner });
    expect(transientCrash(new Error('outer', { cause: middle }))).toBe(true);
  });
});

// kafkajs's own record codec, so the message below is exactly what a fetch gives: views of one buffer.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: {
  key: Buffer;
  value: Buffer;
  headers: Record<string, Buffer>;
}) => { buffer: Buffer };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (
  d: unknown,
  ctx: { firstOffset: string; firstTimestamp: string },
) => KafkaMessage;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { readVarInt(): number };

describe('the record a fetched message becomes (processors/consumer/kafka.ts)', () => {
  it('owns its bytes: no view of the fetch, which it would keep alive while it waits', () => {
    const encoded = encodeRecord({
      key: Buffer.from('grant-1'),
      value: Buffer.from('{"id":"n-1"}'),
      headers: { 'nylas-type': Buffer.from('message.created'), 'x-opaque': Buffer.from([0xc3, 0x28, 0xff]) },
    }).buffer;
    // A fetch answer holds many records; this one sits in the middle of it.
    const fetch = Buffer.concat([Buffer.alloc(4096, 1), encoded, Buffer.alloc(4096, 2)]);
    const decoder = new Decoder(fetch.subarray(4096));
    decoder.readVarInt(); // the record's length, read by kafkajs's batch decoder before the record
    const m = decodeRecord(decoder, { firstOffset: '41', firstTimestamp: '1700000000000' });
    const r = toRawRecord('nylas.webhooks.raw', 3, m);

    // The fetch answer is reused or freed once its records are taken: overwrite it. Compared by content,
    // not by ArrayBuffer: a small copy and the fetch can share one of Node's pooled ArrayBuffers (they
    // did on Node 24).
    fetch.fill(0);
    expect(m.value?.toString()).not.toBe('{"id":"n-1"}'); // what kafkajs gives: a view of the fetch
    expect(r).toMatchObject({
      topic: 'nylas.webhooks.raw',
      partition: 3,
      offset: '41',
      timestamp: '1700000000000',
    });
    expect(r.key?.toString()).toBe('grant-1');
    expect(r.value?.toString()).toBe('{"id":"n-1"}');
    expect(r.headers).toEqual({
      'nylas-type': 'message.created',
      'x-opaque': Buffer.from([0xc3, 0x28, 0xff]),
    });
  });
});
