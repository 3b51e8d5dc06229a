/**
 * A stand-in for kafkajs's transaction manager (src/producer/eosManager) as its send uses it: sequence
 * numbers per partition and a lock per broker, as kafkajs keeps them. For tests that drive kafkajs's own
 * send (src/producer/sendMessages.js) against stand-in brokers.
 */
export interface TopicDataShape {
  topic: string;
  partitions: Array<{ partition: number }>;
}

export function standInEosManager(o: {
  transactionalId: string;
  producerId: number;
  addPartitionsToTransaction: (topicData: TopicDataShape[]) => Promise<unknown>;
}) {
  const sequences = new Map<number, number>();
  const locks = new Map<object, Promise<void>>();
  const releases = new Map<object, () => void>();
  return {
    isTransactional: () => true,
    getTransactionalId: () => o.transactionalId,
    getProducerId: () => o.producerId,
    getProducerEpoch: () => 0,
    getSequence: (_t: string, p: number) => sequences.get(Number(p)) ?? 0,
    updateSequence: (_t: string, p: number, by: number) =>
      sequences.set(Number(p), (sequences.get(Number(p)) ?? 0) + by),
    async acquireBrokerLock(b: object) {
      while (locks.has(b)) await locks.get(b);
      locks.set(b, new Promise<void>((r) => releases.set(b, r)));
    },
    async releaseBrokerLock(b: object) {
      locks.delete(b);
      releases.get(b)?.();
    },
    addPartitionsToTransaction: o.addPartitionsToTransaction,
  };
}

// kafkajs internals, as the adaptations see them (not part of its typed API).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createSendMessages = require('kafkajs/src/producer/sendMessages') as (
  o: object,
) => (r: object) => Promise<unknown>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRetry = require('kafkajs/src/retry') as (o: object) => unknown;

/** What kafkajs's send asks of a cluster besides its leaders and brokers: metadata that is always fresh. */
export const FRESH_METADATA = {
  refreshMetadataIfNecessary: async () => undefined,
  refreshMetadata: async () => undefined,
  addMultipleTargetTopics: async () => undefined,
  isConnected: () => true,
  removeBroker: () => undefined,
};

/** kafkajs's own send over `cluster` and `eosManager`, each message in the partition its key names,
 * retrying at once (1–5 ms) up to three times. */
export function kafkajsSend(cluster: object, eosManager: object): (request: object) => Promise<unknown> {
  return createSendMessages({
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    cluster,
    partitioner: ({ message }: { message: { key: string } }) => Number(message.key),
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
}
