import { EventEmitter } from 'node:events';
import type { Producer } from 'kafkajs';
import { ProducerSupervisor } from '../../../ingress/producer';
import { ErrorCodes, NylasStreamError } from '../../../lib/errors';
import { silentLogger } from '../../../lib/logger';

/** A stand-in for a kafkajs producer: connect() succeeds or fails as told; events like kafkajs's. */
class FakeProducer extends EventEmitter {
  static failConnect = false;
  connected = false;
  disconnects = 0;
  readonly events = { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' };

  async connect(): Promise<void> {
    if (FakeProducer.failConnect) throw new Error('ECONNREFUSED');
    this.connected = true;
    this.emit(this.events.CONNECT);
  }

  async disconnect(): Promise<void> {
    this.disconnects += 1;
    this.connected = false;
    this.emit(this.events.DISCONNECT);
  }
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};

function supervisor() {
  const created: FakeProducer[] = [];
  const states: boolean[] = [];
  const s = new ProducerSupervisor({
    createProducer: () => {
      const p = new FakeProducer();
      created.push(p);
      return p as unknown as Producer;
    },
    logger: silentLogger(),
    onStateChange: (up) => states.push(up),
    backoff: { initialMs: 5, maxMs: 20 },
  });
  return { s, created, states };
}

describe('ProducerSupervisor', () => {
  afterEach(() => {
    FakeProducer.failConnect = false;
  });

  it('connects in the background and hands out the connected producer', async () => {
    const { s, created, states } = supervisor();
    s.start();
    const p = await s.acquire();
    expect(p).toBe(created[0]);
    expect(s.isUp()).toBe(true);
    expect(states).toEqual([true]);
    await s.close();
    expect(states).toEqual([true, false]);
    expect(created[0]!.disconnects).toBeGreaterThan(0);
  });

  it('replaces a producer after a failed send (a fresh producer id, fresh sequence numbers)', async () => {
    const { s, created } = supervisor();
    s.start();
    const first = await s.acquire();
    s.markFailed(first, new Error('OUT_OF_ORDER_SEQUENCE_NUMBER'));
    expect(s.isUp()).toBe(false);
    await until(() => s.isUp());
    const second = await s.acquire();
    expect(second).not.toBe(first);
    expect(created).toHaveLength(2);
    expect(created[0]!.disconnects).toBeGreaterThan(0);
    // A stale report about the retired producer changes nothing.
    s.markFailed(first, new Error('late'));
    expect(await s.acquire()).toBe(second);
    await s.close();
  });

  it('fails fast while Kafka is away, keeps retrying with backoff, and recovers by itself', async () => {
    FakeProducer.failConnect = true;
    const { s, created } = supervisor();
    s.start();
    await until(() => created.length >= 3);
    expect(s.isUp()).toBe(false);
    await expect(s.acquire()).rejects.toMatchObject({ code: expect.stringMatching(/KAFKA_UNAVAILABLE/) });
    FakeProducer.failConnect = false;
    await until(() => s.isUp());
    await expect(s.acquire()).resolves.toBeDefined();
    await s.close();
  });

  it('follows the client disconnect event', async () => {
    const { s, created } = supervisor();
    s.start();
    await s.acquire();
    created[0]!.emit('producer.disconnect');
    expect(s.isUp()).toBe(false);
    await until(() => s.isUp());
    expect(created).toHaveLength(2);
    await s.close();
  });

  it('refuses producers after close', async () => {
    const { s } = supervisor();
    s.start();
    await s.close();
    const err = await s.acquire().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NylasStreamError);
    expect((err as NylasStreamError).code).toBe(ErrorCodes.SHUTTING_DOWN);
  });
});
