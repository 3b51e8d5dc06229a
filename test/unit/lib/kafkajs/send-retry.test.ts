/**
 * kafkajs's own send (src/producer/sendMessages.js) driven against two stand-in brokers, to show the
 * double write the send-retry adaptation (lib/kafkajs/send-retry.ts) prevents: broker 1's Produce is
 * still in flight when the AddPartitionsToTxn in front of broker 2's fails (CONCURRENT_TRANSACTIONS, as
 * right after a commit on three brokers); kafkajs retries at once and sends broker 1's records a second
 * time, under the next sequence numbers, so the broker would write both copies.
 */
import { KafkaJSProtocolError } from 'kafkajs';
import { installSendRetry } from '../../../../lib/kafkajs/send-retry';
import { PINNED_KAFKAJS_VERSION } from '../../../../lib/kafkajs/version';
import { FRESH_METADATA, kafkajsSend, standInEosManager } from './stand-in-eos';

// kafkajs internals, as the adaptation sees them (not part of its typed API).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

const TOPIC = 'domain';
const PRODUCER_ID = 7;

interface ProduceCall {
  broker: number;
  partition: number;
  firstSequence: number;
}

/** Two brokers (partition 0 on broker 1, partition 1 on broker 2) and the transaction coordinator. */
function scenario(Broker: new (nodeId: number, calls: ProduceCall[]) => object) {
  const calls: ProduceCall[] = [];
  const brokers = new Map([1, 2].map((id) => [id, new Broker(id, calls)]));
  const coordinator = new Broker(0, calls) as { addPartitionsToTxn(r: object): Promise<unknown> };
  const eosManager = standInEosManager({
    transactionalId: 'txn',
    producerId: PRODUCER_ID,
    addPartitionsToTransaction: (topicData) =>
      coordinator.addPartitionsToTxn({
        transactionalId: 'txn',
        producerId: PRODUCER_ID,
        topics: topicData.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => p.partition) })),
      }),
  });
  const cluster = {
    ...FRESH_METADATA,
    findTopicPartitionMetadata: () => [
      { partitionId: 0, leader: 1 },
      { partitionId: 1, leader: 2 },
    ],
    findLeaderForPartitions: (_t: string, partitions: string[]) =>
      Object.fromEntries(
        [1, 2].map((leader) => [leader, partitions.map(Number).filter((p) => p === leader - 1)]),
      ),
    findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
  };
  const send = kafkajsSend(cluster, eosManager);
  return { calls, send };
}

/** A stand-in broker: Produce answers after 30 ms; the first AddPartitionsToTxn for partition 1 fails. */
function brokerClass() {
  let failedOnce = false;
  return class StandInBroker {
    constructor(
      readonly nodeId: number,
      private readonly calls: ProduceCall[],
    ) {}
    async produce(request: {
      producerId: number;
      topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number }> }>;
    }): Promise<unknown> {
      await new Promise((r) => setTimeout(r, 30));
      const partitions = request.topicData.flatMap((t) => t.partitions);
      for (const p of partitions)
        this.calls.push({ broker: this.nodeId, partition: p.partition, firstSequence: p.firstSequence });
      return {
        topics: [
          {
            topicName: TOPIC,
            partitions: partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
          },
        ],
      };
    }
    async addPartitionsToTxn(request: { topics: Array<{ partitions: number[] }> }): Promise<unknown> {
      if (!failedOnce && request.topics.some((t) => t.partitions.includes(1))) {
        failedOnce = true;
        throw new KafkaJSProtocolError(createErrorFromCode(51)); // CONCURRENT_TRANSACTIONS, retriable
      }
      return {};
    }
  };
}

const batch = {
  acks: -1,
  topicMessages: [
    {
      topic: TOPIC,
      messages: [
        { key: '0', value: 'to broker 1' },
        { key: '1', value: 'to broker 2' },
      ],
    },
  ],
};

describe('kafkajs send retries (lib/kafkajs/send-retry.ts)', () => {
  it('kafkajs as published sends the in-flight records a second time, under new sequence numbers', async () => {
    const { calls, send } = scenario(brokerClass());
    await send(batch);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls.filter((c) => c.partition === 0)).toEqual([
      { broker: 1, partition: 0, firstSequence: 0 },
      { broker: 1, partition: 0, firstSequence: 1 },
    ]);
  });

  it('with the adaptation, each record is sent once and the failed part is retried', async () => {
    const Broker = brokerClass();
    expect(
      installSendRetry({ brokerPrototype: Broker.prototype, kafkajsVersion: PINNED_KAFKAJS_VERSION }),
    ).toEqual({
      name: 'send-retry',
      active: true,
    });
    const { calls, send } = scenario(Broker);
    await send(batch);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toEqual([
      { broker: 1, partition: 0, firstSequence: 0 },
      { broker: 2, partition: 1, firstSequence: 0 },
    ]);
  });
});
