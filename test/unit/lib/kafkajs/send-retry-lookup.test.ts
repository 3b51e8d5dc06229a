/**
 * kafkajs's own send and its own transaction manager (src/producer/eosManager) against stand-in brokers
 * and a stand-in cluster, for the double write the send-retry adaptation's coordinator tracking
 * (lib/kafkajs/send-retry.ts) prevents. Seen as 1–12 duplicated domain events in
 * test/e2e/failover.test.ts while a broker was stopped, after the first fix had only tracked requests:
 *
 * a transaction's second send writes to partition 0 (already in the transaction, so its Produce goes out
 * at once) and to partition 1 (new, so its part first asks the cluster for the transaction coordinator,
 * a lookup that takes a while when the coordinator moves). Partition 0's Produce fails at once
 * (NOT_ENOUGH_REPLICAS, as while a broker shuts down); no request is in flight, so kafkajs retries, and
 * the retry's part for partition 1 waits for the broker lock the first part still holds. The first part
 * then writes partition 1, and the retry writes it again under the next sequence number.
 */
import { KafkaJSProtocolError } from 'kafkajs';
import { installSendRetry } from '../../../../lib/kafkajs/send-retry';
import { PINNED_KAFKAJS_VERSION } from '../../../../lib/kafkajs/version';

// kafkajs internals, as the adaptation sees them (not part of its typed API).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createSendMessages = require('kafkajs/src/producer/sendMessages') as (
  o: object,
) => (r: object) => Promise<unknown>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createEosManager = require('kafkajs/src/producer/eosManager') as (o: object) => EosManager;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createRetry = require('kafkajs/src/retry') as (o: object) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

interface EosManager {
  initProducerId(): Promise<void>;
  beginTransaction(): void;
}

const TOPIC = 'domain';
const TRANSACTIONAL_ID = 'nylas-stream-processor-raw-3';
const LOOKUP_MS = 40;
const PRODUCE_MS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProduceCall {
  broker: number;
  partition: number;
  firstSequence: number;
}

/** Stand-ins for kafkajs's Broker and Cluster classes, fresh per test so each can be adapted or not. */
function standIns() {
  const calls: ProduceCall[] = [];
  let partition0Failures = 1;
  const logger = { debug() {}, info() {}, warn() {}, error() {} };

  class Broker {
    constructor(readonly nodeId: number) {}
    async initProducerId(): Promise<unknown> {
      return { producerId: 7, producerEpoch: 0 };
    }
    async addPartitionsToTxn(): Promise<unknown> {
      return {};
    }
    async produce(request: {
      transactionalId?: string;
      producerId: number;
      topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number }> }>;
    }): Promise<unknown> {
      const partitions = request.topicData.flatMap((t) => t.partitions);
      if (partitions.some((p) => p.partition === 0) && partition0Failures > 0) {
        partition0Failures -= 1;
        // NOT_ENOUGH_REPLICAS: refused before the append, retriable.
        throw new KafkaJSProtocolError(createErrorFromCode(19));
      }
      await sleep(PRODUCE_MS);
      for (const p of partitions)
        calls.push({ broker: this.nodeId, partition: p.partition, firstSequence: p.firstSequence });
      return {
        topics: [
          {
            topicName: TOPIC,
            partitions: partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
          },
        ],
      };
    }
  }
  const brokers = new Map([0, 1, 2].map((id) => [id, new Broker(id)]));

  class Cluster {
    readonly retry = { retries: 3, initialRetryTime: 1, maxRetryTime: 5 };
    /** Where kafkajs's transaction manager asks for the transaction coordinator (broker 0 here). */
    async findGroupCoordinator(_params: { groupId: string; coordinatorType?: number }): Promise<Broker> {
      await sleep(LOOKUP_MS);
      return brokers.get(0) as Broker;
    }
    async refreshMetadataIfNecessary() {}
    async refreshMetadata() {}
    async addMultipleTargetTopics() {}
    isConnected() {
      return true;
    }
    removeBroker() {}
    findTopicPartitionMetadata() {
      return [
        { partitionId: 0, leader: 1 },
        { partitionId: 1, leader: 2 },
      ];
    }
    findLeaderForPartitions(_t: string, partitions: string[]) {
      // Partition p is led by broker p + 1.
      return Object.fromEntries(partitions.map((p) => [Number(p) + 1, [Number(p)]]));
    }
    async findBroker({ nodeId }: { nodeId: number | string }) {
      return brokers.get(Number(nodeId));
    }
  }

  async function transaction() {
    const cluster = new Cluster();
    const eosManager = createEosManager({
      logger,
      cluster,
      transactional: true,
      transactionalId: TRANSACTIONAL_ID,
    });
    await eosManager.initProducerId();
    eosManager.beginTransaction();
    const send = createSendMessages({
      logger,
      cluster,
      partitioner: ({ message }: { message: { key: string } }) => Number(message.key),
      eosManager,
      retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
    });
    return (keys: string[]) =>
      send({
        acks: -1,
        topicMessages: [{ topic: TOPIC, messages: keys.map((key) => ({ key, value: key })) }],
      });
  }

  /** The round: partition 0 first (it joins the transaction), then partitions 0 and 1 together. */
  async function round(): Promise<ProduceCall[]> {
    const send = await transaction();
    await send(['0']);
    partition0Failures = 1;
    await send(['0', '1']);
    // Whatever a part left running has written by now.
    await sleep(LOOKUP_MS + PRODUCE_MS * 4);
    return calls;
  }

  return { Broker, Cluster, round };
}

describe('kafkajs send retries while a part looks up the transaction coordinator (lib/kafkajs/send-retry.ts)', () => {
  it('kafkajs as published writes partition 1 twice, under sequence numbers 0 and 1', async () => {
    const { round } = standIns();
    const calls = await round();
    expect(calls.filter((c) => c.partition === 1)).toEqual([
      { broker: 2, partition: 1, firstSequence: 0 },
      { broker: 2, partition: 1, firstSequence: 1 },
    ]);
  });

  it('with the adaptation, the failure waits for the lookup and each record is written once', async () => {
    const { Broker, Cluster, round } = standIns();
    expect(
      installSendRetry({
        brokerPrototype: Broker.prototype,
        clusterPrototype: Cluster.prototype,
        kafkajsVersion: PINNED_KAFKAJS_VERSION,
      }),
    ).toEqual({ name: 'send-retry', active: true });
    const calls = await round();
    expect(calls).toEqual([
      { broker: 1, partition: 0, firstSequence: 0 },
      { broker: 2, partition: 1, firstSequence: 0 },
      { broker: 1, partition: 0, firstSequence: 1 },
    ]);
  });
});
