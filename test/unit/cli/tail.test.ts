/**
 * `tail`: where it starts and stops per partition, how values are decoded, and how records print.
 */
import { gzipSync } from 'node:zlib';
import { decodeValue, toJson } from '../../../cli/ops/decode';
import { formatTailRecord, type TailRecord, tailRanges, tailRecordJson } from '../../../cli/ops/tail';

describe('tailRanges', () => {
  const offsets = [
    { partition: 1, low: '5', high: '100' },
    { partition: 0, low: '0', high: '3' },
    { partition: 2, low: '7', high: '7' },
  ];
  it('starts N before the end (not before the earliest offset) and ends at the end seen at start', () => {
    expect(tailRanges(offsets, { fromBeginning: false, last: 10 })).toEqual([
      { partition: 0, start: 0, end: 3 },
      { partition: 1, start: 90, end: 100 },
      { partition: 2, start: 7, end: 7 },
    ]);
  });
  it('--from-beginning starts at the earliest offset; --partition keeps one', () => {
    expect(tailRanges(offsets, { fromBeginning: true, last: 10, partition: 1 })).toEqual([
      { partition: 1, start: 5, end: 100 },
    ]);
  });
});

describe('decodeValue', () => {
  const avro = { decode: jest.fn(async () => ({ id: 'x', n: BigInt(3) })) };
  it('decodes Confluent framing through the registry', async () => {
    const framed = Buffer.from([0, 0, 0, 0, 42, 1, 2, 3]);
    expect(await decodeValue(framed, {}, avro)).toEqual({
      format: 'avro',
      schemaId: 42,
      value: { id: 'x', n: BigInt(3) },
    });
    expect(avro.decode).toHaveBeenCalledWith(framed);
  });
  it('shows bytes with the reason when the registry cannot decode', async () => {
    const failing = { decode: async () => Promise.reject(new Error('Schema 9 not found')) };
    const d = await decodeValue(Buffer.from([0, 0, 0, 0, 9, 1]), {}, failing);
    expect(d).toEqual({ format: 'binary', value: 'AAAAAAkB', error: 'Avro schema 9: Schema 9 not found' });
  });
  it('unpacks gzip (by header or magic bytes), then JSON, text, binary, tombstone', async () => {
    const json = { id: 'n', type: 'message.created' };
    expect(await decodeValue(gzipSync(JSON.stringify(json)), {}, undefined)).toEqual({
      format: 'json',
      value: json,
      gzip: true,
    });
    expect(await decodeValue(Buffer.from(JSON.stringify(json)), {}, avro)).toEqual({
      format: 'json',
      value: json,
    });
    expect(await decodeValue(Buffer.from('hello'), {}, avro)).toEqual({ format: 'text', value: 'hello' });
    expect(await decodeValue(Buffer.from([0xff, 0xfe, 0x01]), {}, undefined)).toEqual({
      format: 'binary',
      value: '//4B',
    });
    expect(await decodeValue(null, {}, avro)).toEqual({ format: 'tombstone', value: null });
    const bad = await decodeValue(
      Buffer.from('not gzip'),
      { 'content-encoding': Buffer.from('gzip') },
      undefined,
    );
    expect(bad.format).toBe('binary');
  });
  it('toJson handles bigint and Buffer', () => {
    expect(toJson({ a: BigInt(12), b: Buffer.from('hi') })).toBe('{"a":"12","b":"aGk="}');
  });
});

describe('printing', () => {
  const rec: TailRecord = {
    topic: 'nylas.webhooks.raw',
    partition: 3,
    offset: '42',
    timestamp: '2026-01-01T00:00:00.000Z',
    key: 'grant-1',
    headers: { 'nylas-signature': 'deadbeef', 'nylas-type': 'message.created' },
    decoded: { format: 'json', value: { id: 'n1' } },
  };
  it('human form: header line, optional headers (signature redacted), indented value', () => {
    expect(formatTailRecord(rec, true)).toBe(
      [
        'nylas.webhooks.raw [3] @42  2026-01-01T00:00:00.000Z  key=grant-1  json',
        '  headers {"nylas-signature":"[redacted]","nylas-type":"message.created"}',
        '  {',
        '    "id": "n1"',
        '  }',
      ].join('\n'),
    );
    expect(formatTailRecord(rec, false)).not.toContain('headers');
  });
  it('json form: one line, signature redacted', () => {
    const line = tailRecordJson(rec, true);
    expect(JSON.parse(line)).toEqual({
      topic: 'nylas.webhooks.raw',
      partition: 3,
      offset: '42',
      timestamp: '2026-01-01T00:00:00.000Z',
      key: 'grant-1',
      headers: { 'nylas-signature': '[redacted]', 'nylas-type': 'message.created' },
      format: 'json',
      value: { id: 'n1' },
    });
    expect(line).not.toContain('deadbeef');
  });
});
