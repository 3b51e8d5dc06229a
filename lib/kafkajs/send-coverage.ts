/**
 * A kafkajs send is taken as written only when its answer lists every partition it put messages in.
 *
 * Why: kafkajs 2.2.4's send (src/producer/sendMessages.js) sends one Produce request per leader and, when
 * some fail, retries only the brokers that have not answered yet. If a partition's leader died and its
 * new leader is a broker that already answered for other partitions of the same send, the retry sends
 * that partition's messages nowhere, and the send resolves as if everything had been written. Found on
 * the three-broker cluster (test/e2e/failover.test.ts): after the leader of raw partitions was
 * SIGKILLed, 0–4 notifications per run (six runs) had been answered 200 by the ingress and were not in
 * the raw topic. The same send writes the processors' transactions (domain events and changelog records).
 *
 * What: the partitioners the ingress and the processor produce with (KeyHashPartitioner) remember where
 * they put each message; after a send, `checkedSendBatch` compares that with the answer and fails the
 * send (KAFKA_UNAVAILABLE, retriable) when a partition is missing. The ingress then answers 503 and
 * replaces its producer (Nylas delivers again; a copy that did land is deduplicated), and a processor
 * round aborts and is done again. A send is checked only as a whole: which messages of it did land does
 * not matter to either caller.
 */
import type { PartitionerArgs, Producer, ProducerBatch, RecordMetadata, TopicMessages } from 'kafkajs';
import { ErrorCodes, TransientError } from '../errors';
import { openSendScope } from './send-once';

type Partitioner = (args: PartitionerArgs) => number;

/** Where the last partitioner call put each message object (kafkajs passes our objects through). */
const placedIn = new WeakMap<object, number>();

/** `partitioner`, remembering where it puts each message. */
export function rememberingPlacement(partitioner: Partitioner): Partitioner {
  return (args) => {
    const partition = partitioner(args);
    placedIn.set(args.message, partition);
    return partition;
  };
}

/**
 * The `topic:partition`s the send put messages in that its answer does not list. Messages no remembering
 * partitioner placed are not checked (a unit test's stand-in producer); the services produce only through
 * KeyHashPartitioner, and test/integration/lib/kafkajs/send-coverage.test.ts checks that path.
 */
export function unansweredPartitions(
  topicMessages: readonly TopicMessages[],
  answer: readonly RecordMetadata[],
): string[] {
  // Per topic, the partitions answered: a number lookup per message (a round sends thousands), no string.
  const answered = new Map<string, Set<number>>();
  for (const r of answer) {
    const set = answered.get(r.topicName) ?? new Set<number>();
    set.add(r.partition);
    answered.set(r.topicName, set);
  }
  const missing: string[] = [];
  for (const { topic, messages } of topicMessages) {
    const partitions = answered.get(topic);
    const reported = new Set<number>();
    for (const m of messages) {
      const partition = placedIn.get(m);
      if (partition === undefined || partitions?.has(partition) || reported.has(partition)) continue;
      reported.add(partition);
      missing.push(`${topic}:${partition}`);
    }
  }
  return missing;
}

/** What checkedSendBatch needs: a producer's or a transaction's sendBatch. */
export type BatchSender = Pick<Producer, 'sendBatch'>;

/** `sender.sendBatch(batch)`, failing (KAFKA_UNAVAILABLE) when the answer leaves out a partition. */
export async function checkedSendBatch(
  sender: BatchSender,
  batch: ProducerBatch & { topicMessages: TopicMessages[] },
): Promise<RecordMetadata[]> {
  // Each message starts unanswered: kafkajs's retries within this send must not write one twice (send-once.ts).
  openSendScope(batch.topicMessages.flatMap((t) => t.messages));
  const answer = await sender.sendBatch(batch);
  const missing = unansweredPartitions(batch.topicMessages, answer);
  if (missing.length > 0) {
    throw new TransientError(
      ErrorCodes.KAFKA_UNAVAILABLE,
      `kafkajs answered the send without writing to ${missing.join(', ')} (a leader changed during the send)`,
    );
  }
  return answer;
}
