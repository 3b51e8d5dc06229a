import fc from 'fast-check';
import type { Message, Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import { type BatcherOptions, ProduceBatcher } from '../../../ingress/batcher';
import type { ProducerSource } from '../../../ingress/producer';
import { ErrorCodes, NylasStreamError, TransientError } from '../../../lib/errors';
import { silentLogger } from '../../../lib/logger';

interface Deferred {
  batch: ProducerBatch;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A producer whose sendBatch calls wait until the test acknowledges or fails them. */
const fakes: FakeProducers[] = [];

class FakeProducers implements ProducerSource {
  readonly sends: Deferred[] = [];
  constructor() {
    fakes.push(this);
  }

  readonly failed: Array<{ err: unknown; stillRunning: boolean }> = [];
  acquireError: Error | undefined;
  readonly producer = {
    sendBatch: (batch: ProducerBatch) =>
      new Promise<RecordMetadata[]>((resolve, reject) => {
        this.sends.push({ batch, resolve: () => resolve([]), reject });
      }),
  } as unknown as Producer;

  acquire(): Promise<Producer> {
    return this.acquireError ? Promise.reject(this.acquireError) : Promise.resolve(this.producer);
  }

  markFailed(_p: Producer, err: unknown, stillRunning?: Promise<unknown>): void {
    this.failed.push({ err, stillRunning: stillRunning !== undefined });
  }

  values(i: number): string[] {
    return (this.sends[i]?.batch.topicMessages ?? []).flatMap((t) => t.messages.map((m) => String(m.value)));
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
};
const msg = (v: string, size = 0): Message => ({ key: 'k', value: size ? Buffer.alloc(size, v) : v });
const options = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  lingerMs: 0,
  maxRecords: 100,
  maxBytes: 1_000_000,
  sendTimeoutMs: 60_000,
  ackTimeoutMs: 8000,
  ...o,
});
const far = () => Date.now() + 60_000;

const batchers: ProduceBatcher[] = [];
afterEach(() => {
  // Answer whatever a test left pending so no deadline timer outlives it.
  for (const b of batchers.splice(0)) b.abort(new Error('test over'));
  // …and end every send still waiting, so no abandon timer outlives the test either.
  for (const f of fakes.splice(0)) for (const s of f.sends) s.resolve();
});

function make(fake: ProducerSource, o: Partial<BatcherOptions> = {}): ProduceBatcher {
  const b = new ProduceBatcher(fake, options(o), silentLogger());
  batchers.push(b);
  return b;
}

function quiet(p: Promise<void>): void {
  p.catch(() => undefined);
}

function tracked(p: Promise<void>) {
  const state = { status: 'pending' as 'pending' | 'resolved' | 'rejected', error: undefined as unknown };
  p.then(
    () => {
      state.status = 'resolved';
    },
    (err) => {
      state.status = 'rejected';
      state.error = err;
    },
  );
  return state;
}

describe('ProduceBatcher', () => {
  it('answers a record only when its batch is acknowledged', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    const p = tracked(b.publish('raw', msg('a'), far()));
    await until(() => fake.sends.length === 1);
    await tick();
    expect(p.status).toBe('pending');
    expect(fake.sends[0]!.batch.acks).toBe(-1);
    fake.sends[0]!.resolve();
    await until(() => p.status === 'resolved');
    expect(b.pendingRecords).toBe(0);
  });

  it('gathers records that arrive while a batch is in flight into the next batch', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    const first = tracked(b.publish('raw', msg('a'), far()));
    await until(() => fake.sends.length === 1);
    const rest = ['b', 'c', 'd', 'e'].map((v) => tracked(b.publish('raw', msg(v), far())));
    await tick();
    expect(fake.sends).toHaveLength(1); // one request in flight at a time
    fake.sends[0]!.resolve();
    await until(() => fake.sends.length === 2);
    expect(fake.values(1)).toEqual(['b', 'c', 'd', 'e']);
    expect(first.status).toBe('resolved');
    expect(rest.every((r) => r.status === 'pending')).toBe(true);
    fake.sends[1]!.resolve();
    await until(() => rest.every((r) => r.status === 'resolved'));
  });

  it('lingers briefly when idle so simultaneous requests share the first batch', async () => {
    const fake = new FakeProducers();
    const b = make(fake, { lingerMs: 20 });
    for (const v of ['a', 'b', 'c']) quiet(b.publish('raw', msg(v), far()));
    await until(() => fake.sends.length === 1);
    expect(fake.values(0)).toEqual(['a', 'b', 'c']);
  });

  it('bounds a batch by records and by bytes; a record larger than the byte bound goes alone', async () => {
    const fake = new FakeProducers();
    const b = make(fake, { lingerMs: 50, maxRecords: 3, maxBytes: 1000 });
    const all = ['1', '2', '3', '4', '5'].map((v) => b.publish('raw', msg(v), far()));
    const big = b.publish('raw', msg('B', 5000), far());
    const small = b.publish('raw', msg('s', 300), far());
    const sizes: number[] = [];
    for (let i = 0; i < 4; i++) {
      await until(() => fake.sends.length === i + 1);
      sizes.push(fake.values(i).length);
      fake.sends[i]!.resolve();
    }
    await Promise.all([...all, big, small]);
    expect(sizes).toEqual([3, 2, 1, 1]);
  });

  it('writes records for several topics in one request', async () => {
    const fake = new FakeProducers();
    const b = make(fake, { lingerMs: 10 });
    quiet(b.publish('raw', msg('a'), far()));
    quiet(b.publish('rejected', msg('r'), far()));
    await until(() => fake.sends.length === 1);
    expect(fake.sends[0]!.batch.topicMessages?.map((t) => t.topic).sort()).toEqual(['raw', 'rejected']);
  });

  it('fails every record of a failed batch with a retriable error and retires the producer', async () => {
    const fake = new FakeProducers();
    const b = make(fake, { lingerMs: 10 });
    const ps = ['a', 'b'].map((v) => tracked(b.publish('raw', msg(v), far())));
    await until(() => fake.sends.length === 1);
    fake.sends[0]!.reject(new Error('NOT_LEADER_FOR_PARTITION'));
    await until(() => ps.every((p) => p.status === 'rejected'));
    for (const p of ps) {
      expect(p.error).toBeInstanceOf(TransientError);
      expect((p.error as NylasStreamError).code).toBe(ErrorCodes.KAFKA_UNAVAILABLE);
    }
    expect(fake.failed).toHaveLength(1);
    expect(fake.failed[0]!.stillRunning).toBe(false);
  });

  it('answers ACK_TIMEOUT at the deadline and never resolves that record afterwards', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    const p = tracked(b.publish('raw', msg('a'), Date.now() + 30));
    await until(() => p.status === 'rejected');
    expect((p.error as NylasStreamError).code).toBe(ErrorCodes.ACK_TIMEOUT);
    fake.sends[0]!.resolve(); // Kafka acknowledges late: the answer was a 503, and stays one
    await tick();
    expect(p.status).toBe('rejected');
  });

  it('abandons a send past sendTimeoutMs and replaces the producer once the send settles', async () => {
    const fake = new FakeProducers();
    const b = make(fake, { sendTimeoutMs: 30 });
    const p = tracked(b.publish('raw', msg('a'), far()));
    await until(() => p.status === 'rejected');
    expect(fake.failed).toEqual([{ err: expect.any(NylasStreamError), stillRunning: true }]);
    // The loop is free again: the next record gets a new send.
    const q = tracked(b.publish('raw', msg('b'), far()));
    await until(() => fake.sends.length === 2);
    fake.sends[1]!.resolve();
    await until(() => q.status === 'resolved');
  });

  it('fails at once when no producer is available', async () => {
    const fake = new FakeProducers();
    fake.acquireError = new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'reconnecting');
    const b = make(fake);
    const p = tracked(b.publish('raw', msg('a'), far()));
    await until(() => p.status === 'rejected');
    expect(p.error).toBe(fake.acquireError);
    expect(fake.sends).toHaveLength(0);
  });

  it('does not send records that expired while waiting', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    quiet(b.publish('raw', msg('first'), far()));
    await until(() => fake.sends.length === 1);
    const expired = tracked(b.publish('raw', msg('late'), Date.now() + 10));
    const fresh = b.publish('raw', msg('fresh'), far());
    await until(() => expired.status === 'rejected');
    fake.sends[0]!.resolve();
    await until(() => fake.sends.length === 2);
    expect(fake.values(1)).toEqual(['fresh']);
    fake.sends[1]!.resolve();
    await fresh;
  });

  it('drops the bodies of records answered 503 while they wait behind a slow send', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    quiet(b.publish('raw', msg('first'), far()));
    await until(() => fake.sends.length === 1); // the broker is slow: this send does not return
    // 100 records: past the compaction threshold too (answered entries leave the queue array).
    const expired = Array.from({ length: 100 }, (_, i) =>
      tracked(b.publish('raw', msg(String(i % 10), 50_000), Date.now() + 10)),
    );
    const fresh = tracked(b.publish('raw', msg('fresh'), far()));
    expect(b.queuedBodyBytes).toBeGreaterThan(100 * 50_000);
    await until(() => expired.every((p) => p.status === 'rejected'));
    // Nobody waits for those 5 MB any more: the queue no longer holds them (only "fresh" is left).
    expect(b.queuedBodyBytes).toBeLessThan(1000);
    fake.sends[0]!.resolve();
    await until(() => fake.sends.length === 2);
    expect(fake.values(1)).toEqual(['fresh']);
    fake.sends[1]!.resolve();
    await until(() => fresh.status === 'resolved');
  });

  it('idle() waits for every record to be answered', async () => {
    const fake = new FakeProducers();
    const b = make(fake);
    quiet(b.publish('raw', msg('a'), far()));
    let idle = false;
    void b.idle().then(() => {
      idle = true;
    });
    await until(() => fake.sends.length === 1);
    expect(idle).toBe(false);
    fake.sends[0]!.resolve();
    await until(() => idle);
  });

  it('property: a record is resolved only if a batch carrying it was acknowledged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('ack', 'fail', 'late'), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
        async (outcomes, arrivals) => {
          const fake = new FakeProducers();
          const b = make(fake, { maxRecords: 4, sendTimeoutMs: 40 });
          const results = new Map<string, ReturnType<typeof tracked>>();
          let n = 0;
          const acked = new Set<string>();
          for (let round = 0; round < Math.max(outcomes.length, arrivals.length); round++) {
            for (let i = 0; i < (arrivals[round] ?? 0); i++) {
              const v = `r${n++}`;
              results.set(v, tracked(b.publish('raw', msg(v), Date.now() + 25)));
            }
            await tick();
            const send = fake.sends[round];
            if (send === undefined) continue;
            const outcome = outcomes[round] ?? 'ack';
            if (outcome === 'ack') {
              for (const v of fake.values(round)) acked.add(v);
              send.resolve();
            } else if (outcome === 'fail') {
              send.reject(new Error('broker gone'));
            } // 'late': never answered; the batcher abandons it
            await tick();
          }
          await b.idle();
          for (const [v, r] of results) {
            expect(r.status).not.toBe('pending');
            if (r.status === 'resolved') expect(acked.has(v)).toBe(true);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
