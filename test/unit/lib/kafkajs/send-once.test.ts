/**
 * kafkajs's own send (src/producer/sendMessages.js) against two stand-in brokers whose leadership moves
 * during the send, for the double write send-once.ts refuses: partition 0's old leader (broker 1) answers
 * for it, partition 1's Produce on broker 2 fails after that, and by the retry partition 0 is led by broker 2, which
 * has not answered yet. kafkajs retries per broker, so it sends partition 0's record to broker 2 again,
 * under the next sequence number, and the broker would write it twice in one transaction.
 */
import { KafkaJSProtocolError } from 'kafkajs';
import { isTransientKafkajsError } from '../../../../lib/kafkajs/errors';
import { AnsweredElsewhereError, openSendScope } from '../../../../lib/kafkajs/send-once';
import { installSendRetry } from '../../../../lib/kafkajs/send-retry';
import { PINNED_KAFKAJS_VERSION } from '../../../../lib/kafkajs/version';
import { FRESH_METADATA, kafkajsSend, standInEosManager } from './stand-in-eos';

// kafkajs internals, as the adaptation sees them (not part of its typed API).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

const TOPIC = 'domain';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProduceCall {
  broker: number;
  partition: number;
  firstSequence: number;
}

function scenario() {
  const calls: ProduceCall[] = [];
  /** Partition → leader; partition 0 moves to broker 2 once broker 1 has answered for it. */
  const leaders = new Map([
    [0, 1],
    [1, 2],
  ]);
  let partition1Failures = 1;
  class Broker {
    constructor(readonly nodeId: number) {}
    async produce(request: {
      transactionalId?: string;
      topicData: Array<{ topic: string; partitions: Array<{ partition: number; firstSequence: number }> }>;
    }): Promise<unknown> {
      const partitions = request.topicData.flatMap((t) => t.partitions);
      if (partitions.some((p) => p.partition === 1) && partition1Failures > 0) {
        partition1Failures -= 1;
        // After broker 1 has answered: the retry finds nothing of the send in flight.
        await sleep(40);
        throw new KafkaJSProtocolError(createErrorFromCode(6)); // NOT_LEADER_OR_FOLLOWER, retriable
      }
      await sleep(20);
      for (const p of partitions)
        calls.push({ broker: this.nodeId, partition: p.partition, firstSequence: p.firstSequence });
      // Broker 1 stops leading partition 0 once it has written it.
      if (this.nodeId === 1) leaders.set(0, 2);
      return {
        topics: [
          {
            topicName: TOPIC,
            partitions: partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
          },
        ],
      };
    }
    async addPartitionsToTxn(): Promise<unknown> {
      return {};
    }
  }
  const brokers = new Map([1, 2].map((id) => [id, new Broker(id)]));
  // The partitions are in the transaction already (a later send of the round).
  const eosManager = standInEosManager({
    transactionalId: 'txn',
    producerId: 7,
    addPartitionsToTransaction: async () => undefined,
  });
  const cluster = {
    ...FRESH_METADATA,
    findTopicPartitionMetadata: () => [...leaders].map(([partitionId, leader]) => ({ partitionId, leader })),
    findLeaderForPartitions: (_t: string, partitions: string[]) => {
      const by: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) {
        const leader = leaders.get(p) as number;
        by[leader] = [...(by[leader] ?? []), p];
      }
      return by;
    },
    findBroker: async ({ nodeId }: { nodeId: number | string }) => brokers.get(Number(nodeId)),
  };
  const send = kafkajsSend(cluster, eosManager);
  const messages = [
    { key: '0', value: 'led by broker 1, then 2' },
    { key: '1', value: 'led by broker 2' },
  ];
  return {
    Broker,
    calls,
    send: () => send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] }),
    messages,
  };
}

describe("kafkajs send retries after a partition's leader moved (lib/kafkajs/send-once.ts)", () => {
  it('kafkajs as published writes partition 0 twice, under sequence numbers 0 and 1', async () => {
    const { calls, send } = scenario();
    await send();
    expect(calls.filter((c) => c.partition === 0)).toEqual([
      { broker: 1, partition: 0, firstSequence: 0 },
      { broker: 2, partition: 0, firstSequence: 1 },
    ]);
  });

  it('adapted, the retry is refused before it writes, as a transient failure of the send', async () => {
    const { Broker, calls, send, messages } = scenario();
    expect(
      installSendRetry({ brokerPrototype: Broker.prototype, kafkajsVersion: PINNED_KAFKAJS_VERSION }),
    ).toEqual({ name: 'send-retry', active: true });
    openSendScope(messages);
    const failure = await send().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(AnsweredElsewhereError);
    expect(isTransientKafkajsError(failure)).toBe(true);
    expect(calls).toEqual([{ broker: 1, partition: 0, firstSequence: 0 }]);
  });

  it('a new send of the same messages starts unanswered', async () => {
    const { Broker, calls, send, messages } = scenario();
    installSendRetry({ brokerPrototype: Broker.prototype, kafkajsVersion: PINNED_KAFKAJS_VERSION });
    openSendScope(messages);
    await send().catch(() => undefined);
    // The transaction was aborted; the round sends its records again in a new one.
    openSendScope(messages);
    await send();
    expect(calls.slice(1)).toEqual([
      { broker: 2, partition: 0, firstSequence: 1 },
      { broker: 2, partition: 1, firstSequence: 0 },
    ]);
  });
});
