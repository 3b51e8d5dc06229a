/**
 * A failed part of a kafkajs send is reported only once the rest of that send has been answered, so
 * kafkajs's retry never writes the same records twice.
 *
 * Why: kafkajs 2.2.4's send (src/producer/sendMessages.js) sends one Produce request per leader at once
 * and waits for them with Promise.all. When one of them fails (a broker away, or, in a transaction, the
 * AddPartitionsToTxn in front of it answered CONCURRENT_TRANSACTIONS while the previous commit's markers
 * are still being written), Promise.all rejects at once and kafkajs retries while the others are still in
 * flight: they have no answer yet, so the retry sends their records again, and when the first request
 * then succeeds its sequence numbers are taken, the copy gets the next ones and the broker writes both.
 * Found on the three-broker cluster (test/e2e/failover.test.ts): 143–387 domain events per run written
 * twice inside one committed transaction, most of them without any fault injected.
 *
 * What: Broker#produce and Broker#addPartitionsToTxn are tracked per producer id while in flight; when
 * one fails, its failure is passed on only after the producer's other requests have settled (and kafkajs
 * has stored their answers, or sent the Produce an AddPartitionsToTxn was for), so the retry sends only
 * what has no answer. Bounded by those
 * requests' own timeouts. Idempotent and transactional producers only (a producer id ≥ 0): the others
 * make no such promise to keep. What a retry still gets wrong (a partition whose new leader had already
 * answered is skipped) is caught by send-coverage.ts. Applied only to the pinned kafkajs version.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type AdaptationStatus, type BrokerAdaptationOptions, installBrokerAdaptation } from './adaptation';

interface BrokerPrototype {
  produce(this: unknown, request: { producerId?: unknown }): Promise<unknown>;
  addPartitionsToTxn(this: unknown, request: { producerId?: unknown }): Promise<unknown>;
}

/** Produce and AddPartitionsToTxn requests in flight (the requests, not the promises handed to kafkajs),
 * per producer id. Ids are unique per cluster; two clusters in one process sharing an id only make a
 * failure wait a little longer. */
const inFlight = new Map<string, Set<Promise<unknown>>>();

function producerKey(request: { producerId?: unknown }): string | undefined {
  const id = request.producerId;
  if ((typeof id !== 'number' && typeof id !== 'string') || Number(id) < 0) return undefined;
  return String(id);
}

/**
 * Waits until the producer has no request in flight but `own`, and kafkajs has seen their answers. A
 * request that succeeds can start the next one (AddPartitionsToTxn, then its Produce), so it looks again.
 */
async function othersSettled(key: string, own: Promise<unknown>): Promise<void> {
  for (;;) {
    // kafkajs stores an answer, or sends the Produce an AddPartitionsToTxn was for, in the continuation
    // of its await: let those run first (one that had just succeeded is no longer in flight, and its
    // Produce not yet).
    await nextTurn();
    const others = [...(inFlight.get(key) ?? [])].filter((p) => p !== own);
    if (others.length === 0) return;
    await Promise.allSettled(others);
  }
}

/** Runs `request`, tracked in flight under the producer's id; a failure waits for the others. */
function tracked(key: string | undefined, request: () => Promise<unknown>): Promise<unknown> {
  if (key === undefined) return request();
  const attempt = request();
  let set = inFlight.get(key);
  if (!set) {
    set = new Set();
    inFlight.set(key, set);
  }
  // The requests themselves are tracked, not what kafkajs awaits: two failing at once must not wait for
  // each other.
  set.add(attempt);
  const forget = () => {
    set.delete(attempt);
    if (set.size === 0 && inFlight.get(key) === set) inFlight.delete(key);
  };
  attempt.then(forget, forget);
  return attempt.catch(async (err: unknown) => {
    await othersSettled(key, attempt);
    throw err;
  });
}

/** Installs the tracking (once per Broker prototype) and says whether it is active. */
export function installSendRetry(options: BrokerAdaptationOptions = {}): AdaptationStatus {
  return installBrokerAdaptation<BrokerPrototype>({
    name: 'send-retry',
    options,
    methods: ['produce', 'addPartitionsToTxn'],
    apply: (proto) => {
      const produce = proto.produce;
      const addPartitions = proto.addPartitionsToTxn;
      proto.produce = function (this: unknown, request) {
        return tracked(producerKey(request), () => produce.call(this, request));
      };
      proto.addPartitionsToTxn = function (this: unknown, request) {
        return tracked(producerKey(request), () => addPartitions.call(this, request));
      };
    },
  });
}
