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
 * What: Broker#produce and Broker#addPartitionsToTxn are tracked while in flight, per transactional id
 * (per producer id for an idempotent producer), and so is Cluster#findGroupCoordinator when it looks up a
 * transaction's coordinator: kafkajs does that lookup in front of the AddPartitionsToTxn of a part whose
 * partitions are new to the transaction, and while the coordinator moves (a broker stopping) it takes
 * long enough for another part's Produce to fail meanwhile. Untracked, that failure went on at once, the
 * retry's part for the same leader waited for the broker lock the first part still held, and then wrote
 * the records the first part had just written again, under the next sequence numbers: 1–12 domain events
 * in some failover runs (test/unit/lib/kafkajs/send-retry-lookup.test.ts replays it). When one tracked
 * step fails, its failure is passed on only after the others have settled (and kafkajs has stored their
 * answers, or gone on to its next step), so the retry sends only what has no answer. Bounded by those
 * steps' own timeouts and retries. Idempotent and transactional producers only (a producer id ≥ 0): the
 * others make no such promise to keep. What a retry still gets wrong when a leader moves is caught
 * elsewhere: a partition whose new leader had already answered is skipped (send-coverage.ts), and one
 * whose old leader had answered is sent again (refused here, before it is sent: send-once.ts). Applied only to the pinned kafkajs version.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  type AdaptationStatus,
  type BrokerAdaptationOptions,
  hasMethod,
  installBrokerAdaptation,
  installOnce,
  prototypeOf,
} from './adaptation';
import { AnsweredElsewhereError, answeredAlready, markAnswered } from './send-once';

interface ProducerRequest {
  transactionalId?: unknown;
  producerId?: unknown;
}

interface BrokerPrototype {
  produce(this: unknown, request: ProducerRequest & Parameters<typeof answeredAlready>[0]): Promise<unknown>;
  addPartitionsToTxn(this: unknown, request: ProducerRequest): Promise<unknown>;
}

interface CoordinatorLookup {
  groupId: string;
  coordinatorType?: number;
}

interface ClusterPrototype {
  findGroupCoordinator(this: unknown, params: CoordinatorLookup): Promise<unknown>;
}

/** kafkajs's coordinator type of a transaction (src/protocol/coordinatorTypes.js). */
const TRANSACTION_COORDINATOR = 1;

export interface SendRetryOptions extends BrokerAdaptationOptions {
  /** kafkajs's Cluster prototype, or a test's stand-in. */
  clusterPrototype?: unknown;
}

/** Steps of a send in flight (the requests, not the promises handed to kafkajs), per producer. Ids are
 * unique per cluster; two clusters in one process sharing one only make a failure wait a little longer. */
const inFlight = new Map<string, Set<Promise<unknown>>>();

/** A transactional producer's requests carry its transactional id, which its coordinator lookups are
 * made for; an idempotent producer's carry only its producer id. */
function producerKey(request: ProducerRequest): string | undefined {
  const txn = request.transactionalId;
  if (typeof txn === 'string' && txn !== '') return `txn:${txn}`;
  const id = request.producerId;
  if ((typeof id !== 'number' && typeof id !== 'string') || Number(id) < 0) return undefined;
  return `pid:${id}`;
}

function lookupKey(params: CoordinatorLookup): string | undefined {
  return params.coordinatorType === TRANSACTION_COORDINATOR ? `txn:${params.groupId}` : undefined;
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

/**
 * Installs the tracking (once per Broker and Cluster prototype) and says whether it is active: only when
 * both parts are, since requests tracked without the lookups still let a retry write twice.
 */
export function installSendRetry(options: SendRetryOptions = {}): AdaptationStatus {
  const brokers = installBrokerAdaptation<BrokerPrototype>({
    name: 'send-retry',
    options,
    methods: ['produce', 'addPartitionsToTxn'],
    apply: (proto) => {
      const produce = proto.produce;
      const addPartitions = proto.addPartitionsToTxn;
      proto.produce = function (this: unknown, request) {
        const key = producerKey(request);
        // A retry sending to a partition's new leader what its old leader answered for (send-once.ts).
        const again = key === undefined ? [] : answeredAlready(request);
        if (again.length > 0) {
          const refused = new AnsweredElsewhereError(
            `kafkajs's retry would write ${again.join(', ')} again (answered by their earlier leader in the same send)`,
          );
          // Passed on, like any failure, once the send's other steps have settled.
          return tracked(key, () => Promise.reject(refused));
        }
        const attempt = tracked(key, () => produce.call(this, request));
        attempt.then(
          () => markAnswered(request),
          () => undefined,
        );
        return attempt;
      };
      proto.addPartitionsToTxn = function (this: unknown, request) {
        return tracked(producerKey(request), () => addPartitions.call(this, request));
      };
    },
  });
  const lookups = installOnce({
    name: 'send-retry',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.clusterPrototype ?? prototypeOf(require('kafkajs/src/cluster')),
    check: (value: unknown): value is ClusterPrototype => hasMethod(value, 'findGroupCoordinator'),
    refused: "kafkajs's Cluster has no findGroupCoordinator()",
    apply: (proto) => {
      const find = proto.findGroupCoordinator;
      proto.findGroupCoordinator = function (this: unknown, params) {
        return tracked(lookupKey(params), () => find.call(this, params));
      };
    },
  });
  return brokers.active ? lookups : brokers;
}
