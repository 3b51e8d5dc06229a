/**
 * The pooled-buffer Encoder encodes exactly the bytes kafkajs's own does: whole produce requests (a
 * transactional batch of small records with headers, and a 1.3 MB record) are encoded by an unpatched
 * copy of kafkajs and by the patched one, and compared byte for byte.
 */
import { installEncoderBuffers } from '../../../../lib/kafkajs/encoder-buffers';

type ProduceRequest = (o: Record<string, unknown>) => { encode(): Promise<{ buffer: Buffer }> };

function topicData(large: Buffer) {
  const small = Array.from({ length: 300 }, (_, i) => ({
    key: `grant-${i % 17}`,
    value: Buffer.from(JSON.stringify({ i, text: 'x'.repeat(i % 700) })),
    headers: {
      'event-type': 'message.updated',
      'nylas-notification-id': `n-${i}`,
      'source-topic': Buffer.from('nylas.webhooks.raw'),
      'source-partition': String(i % 12),
      'source-offset': String(1_000_000 + i),
    },
    timestamp: '1795383403193',
  }));
  return [
    { topic: 'nylas.email.messages', partitions: [{ partition: 3, messages: small }] },
    {
      topic: 'nylas.email.messages',
      partitions: [
        {
          partition: 7,
          messages: [{ key: 'g', value: large, headers: { h: 'v' }, timestamp: '1795383403200' }],
        },
      ],
    },
  ];
}

async function encodeWith(produce: ProduceRequest, data: unknown): Promise<Buffer> {
  const request = produce({
    acks: -1,
    timeout: 30_000,
    transactionalId: 'tx-1',
    producerId: 4242,
    producerEpoch: 3,
    compression: 0,
    topicData: data,
  });
  return (await request.encode()).buffer;
}

describe('kafkajs encoder buffers', () => {
  it('encodes produce requests byte for byte as kafkajs does', async () => {
    const large = Buffer.alloc(1_300_000);
    for (let i = 0; i < large.length; i++) large[i] = (i * 31) % 251;
    let original: ProduceRequest | undefined;
    jest.isolateModules(() => {
      original = require('kafkajs/src/protocol/requests/produce/v3/request') as ProduceRequest;
    });
    const expected = await encodeWith(original as ProduceRequest, topicData(large));

    expect(installEncoderBuffers()).toEqual({ name: 'encoder-buffers', active: true });
    expect(installEncoderBuffers()).toEqual({ name: 'encoder-buffers', active: true });
    const patched = require('kafkajs/src/protocol/requests/produce/v3/request') as ProduceRequest;
    // Garbage in the pool first: unzeroed memory must not leak into the encoding.
    Buffer.allocUnsafe(2048).fill(0xee);
    const actual = await encodeWith(patched, topicData(large));
    expect(actual.length).toBe(expected.length);
    expect(actual.equals(expected)).toBe(true);
  });

  it('starts an encoder empty and grows it from the pool', () => {
    installEncoderBuffers();
    const Encoder = require('kafkajs/src/protocol/encoder') as new () => {
      buf: Buffer;
      buffer: Buffer;
      writeInt32(v: number): unknown;
      writeBytes(v: Buffer): unknown;
    };
    const e = new Encoder();
    expect(e.buf.length).toBe(0);
    e.writeInt32(7);
    expect(e.buf.length).toBe(256);
    e.writeBytes(Buffer.alloc(5000, 1));
    expect(e.buf.length).toBe(8192);
    expect(e.buffer.length).toBe(4 + 4 + 5000);
    expect(e.buffer.readInt32BE(0)).toBe(7);
  });
});
