/**
 * kafkajs's own RequestQueue (src/network/requestQueue), as published and with the idle-request-queue
 * adaptation (lib/kafkajs/idle-request-queue.ts): as published, a connection whose request was answered
 * re-arms a 1 ms timer forever; adapted, it sets none, and requests that must wait (in-flight limit,
 * client-side throttling) are still sent.
 */
import { installIdleRequestQueue } from '../../../../lib/kafkajs/idle-request-queue';
import { PINNED_KAFKAJS_VERSION } from '../../../../lib/kafkajs/version';

interface Queue {
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
  push(request: object): void;
  fulfillRequest(response: { correlationId: number; payload: Buffer | null; size: number }): void;
  maybeThrottle(ms: number): void;
  scheduleCheckPendingRequests(): void;
  destroy(): void;
}
type QueueClass = new (options: object) => Queue;

// kafkajs's internal, as the adaptation sees it (not part of its typed API).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RequestQueue = require('kafkajs/src/network/requestQueue') as QueueClass;

/** A subclass per case, so the adaptation changes only its own prototype. */
function queueClass(adapted: boolean): QueueClass {
  const Own = class extends RequestQueue {};
  if (adapted) {
    const status = installIdleRequestQueue({
      requestQueuePrototype: Own.prototype,
      kafkajsVersion: PINNED_KAFKAJS_VERSION,
    });
    expect(status).toEqual({ name: 'idle-request-queue', active: true });
  }
  return Own;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const queues: Queue[] = [];
function open(Queue: QueueClass, maxInFlightRequests: number | null = null): Queue {
  const q = new Queue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: 'localhost:9092',
    logger: silent,
  });
  queues.push(q);
  return q;
}
afterEach(() => {
  for (const q of queues.splice(0)) q.destroy();
});

/** Pushes request `correlationId`; resolves with the time it was sent, when it is. */
function request(q: Queue, correlationId: number): Promise<number> {
  return new Promise((sent) => {
    q.push({
      entry: { correlationId, apiKey: 0, apiName: 'Produce', apiVersion: 0, resolve() {}, reject() {} },
      expectResponse: true,
      sendRequest: () => sent(Date.now()),
    });
  });
}

/** Calls of scheduleCheckPendingRequests during `ms`. */
async function schedulesDuring(q: Queue, ms: number): Promise<number> {
  let calls = 0;
  const own = q.scheduleCheckPendingRequests;
  q.scheduleCheckPendingRequests = function (this: Queue) {
    calls++;
    own.call(this);
  };
  await new Promise((resolve) => setTimeout(resolve, ms));
  return calls;
}

describe('idle-request-queue', () => {
  it('as published, an answered connection re-arms a timer every millisecond (what the adaptation removes)', async () => {
    const q = open(queueClass(false));
    await request(q, 1);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    // Its delay is about minus the epoch (Node 24 warns TimeoutNegativeWarning; Node 20 says nothing),
    // run after 1 ms.
    expect(q.throttleCheckTimeoutId).not.toBeNull();
    expect(await schedulesDuring(q, 100)).toBeGreaterThan(10);
  });

  it('adapted, an answered connection with nothing pending sets no timer', async () => {
    const q = open(queueClass(true));
    await request(q, 1);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    expect(q.throttleCheckTimeoutId).toBeNull();
    expect(await schedulesDuring(q, 100)).toBe(0);
  });

  it('adapted, a request over the in-flight limit waits and is sent when the one before is answered', async () => {
    const q = open(queueClass(true), 1);
    await request(q, 1);
    let second: number | undefined;
    void request(q, 2).then((at) => {
      second = at;
    });
    expect(q.pending).toHaveLength(1);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBeDefined();
    expect(q.pending).toHaveLength(0);
  });

  it('adapted, a request made while throttled is sent once the throttle ends, by the timer alone', async () => {
    const q = open(queueClass(true));
    await request(q, 1);
    q.fulfillRequest({ correlationId: 1, payload: null, size: 0 });
    const throttledAt = Date.now();
    q.maybeThrottle(40);
    const sentAt = await request(q, 2);
    expect(sentAt - throttledAt).toBeGreaterThanOrEqual(40);
    expect(q.pending).toHaveLength(0);
  });

  it('is inactive on another kafkajs version', () => {
    const Own = class extends RequestQueue {};
    expect(
      installIdleRequestQueue({ requestQueuePrototype: Own.prototype, kafkajsVersion: '2.2.3' }),
    ).toEqual(expect.objectContaining({ name: 'idle-request-queue', active: false }));
  });
});
