/**
 * `replay --reset-state`: forgets the processor's dedupe ids, object versions and progress for chosen
 * input partitions, so notifications replayed from there are emitted again. The state lives in the
 * compacted changelog (processors/state/changelog.ts): keys are JSON arrays starting with the input
 * partition, in state partition `input mod statePartitions`. Tombstones (null values) let compaction
 * remove the partition's records; the reset marker written after them is what makes a processor forget
 * (its on-disk store, restored from a checkpoint, would otherwise keep entries whose records are gone).
 * Only run while the processor group is empty: a running processor would write its state back.
 */
import type { Admin, Kafka, Message } from 'kafkajs';
import { readToEnd } from '../../lib/read-to-end';
import { resetMarkerKey, resetMarkerValue, statePartitionFor } from '../../processors/state/changelog';

export interface StateResetPlan {
  stateTopic: string;
  /** Partitions of the state topic (a marker goes to `input mod statePartitions`). */
  statePartitions: number;
  /** Live (non-tombstoned) entries per input partition: the keys to tombstone. */
  keys: Map<number, { statePartition: number; key: Buffer }[]>;
}

/** The input partition a changelog key belongs to, or undefined for a key we do not recognise. */
export function inputPartitionOfKey(key: Buffer | null): number | undefined {
  if (key === null) return undefined;
  try {
    const k = JSON.parse(key.toString('utf8')) as unknown;
    return Array.isArray(k) && Number.isInteger(k[0]) ? (k[0] as number) : undefined;
  } catch {
    return undefined;
  }
}

export async function planStateReset(
  kafka: Kafka,
  admin: Admin,
  stateTopic: string,
  inputPartitions: number[],
): Promise<StateResetPlan> {
  const wanted = new Set(inputPartitions);
  const offsets = await admin.fetchTopicOffsets(stateTopic);
  const statePartitions = offsets.length;
  const toRead = [...new Set(inputPartitions.map((p) => statePartitionFor(p, statePartitions)))];
  // Last value per key wins, as after compaction.
  const live = new Map<string, { inputPartition: number; statePartition: number; key: Buffer }>();
  await readToEnd(kafka, admin, { topic: stateTopic, partitions: toRead }, (statePartition, m) => {
    const input = inputPartitionOfKey(m.key);
    if (input === undefined || !wanted.has(input) || m.key === null) return;
    const id = `${statePartition}:${m.key.toString('base64')}`;
    if (m.value === null) live.delete(id);
    else live.set(id, { inputPartition: input, statePartition, key: m.key });
  });
  const keys = new Map<number, { statePartition: number; key: Buffer }[]>(
    inputPartitions.map((p) => [p, []]),
  );
  for (const e of live.values())
    keys.get(e.inputPartition)?.push({ statePartition: e.statePartition, key: e.key });
  return { stateTopic, statePartitions, keys };
}

export function stateResetCount(plan: StateResetPlan): number {
  let n = 0;
  for (const list of plan.keys.values()) n += list.length;
  return n;
}

/**
 * Writes one tombstone per live entry, then one reset marker per input partition, in that order on each
 * state partition (acks=all, one request in flight; a tombstone or marker repeated by a retry changes
 * nothing). Returns the number of tombstones.
 */
export async function executeStateReset(kafka: Kafka, plan: StateResetPlan): Promise<number> {
  const messages: Message[] = [];
  for (const list of plan.keys.values()) {
    for (const e of list) messages.push({ key: e.key, value: null, partition: e.statePartition });
  }
  const tombstones = messages.length;
  for (const p of plan.keys.keys()) {
    messages.push({
      key: resetMarkerKey(p),
      value: resetMarkerValue(),
      partition: statePartitionFor(p, plan.statePartitions),
    });
  }
  if (messages.length === 0) return 0;
  const producer = kafka.producer({ maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic: plan.stateTopic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
  return tombstones;
}
