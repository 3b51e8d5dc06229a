/**
 * read_committed that hides every aborted record: kafkajs 2.2.4's filter lets some through.
 *
 * Why: a read_committed fetch answers with the partition's records and the list of aborted transactions
 * that overlap them (producer id, first offset). kafkajs (src/consumer/filterAbortedMessages.js) takes
 * that list to be sorted by first offset and opens at most one aborted transaction per record it reads.
 * The broker sends it in the order the transactions ended (its transaction index), and several
 * transactions can have begun before the first record of a fetch. Then a record of an aborted
 * transaction whose turn has not come is delivered as if committed, and a producer opened late stays
 * open past its abort marker, hiding the next, committed, transaction of that producer. One partition
 * written by several transactional producers at once, some of them aborting, is exactly the processors'
 * output: every partition transaction writes to the same domain, DLQ and changelog partitions. Found on
 * the three-broker cluster (test/e2e/failover.test.ts), where rounds abort without any fault
 * (CONCURRENT_TRANSACTIONS while the previous commit's markers are written): its readers saw 150–280
 * domain events twice, and a state restore (processors/state/restore.ts, read_committed) could apply an
 * aborted round's changes. test/integration/lib/kafkajs/read-committed.test.ts shows kafkajs as published
 * delivering an aborted record from a real broker.
 *
 * What: Broker#fetch hides the aborted records of each partition's answer as the Java consumer does —
 * aborted transactions opened in first-offset order as the records reach them, closed by their
 * producer's abort marker — marking each hidden record as a control record (kafkajs drops those from a
 * batch's messages but still counts their offsets, so a batch of only aborted records is stepped over)
 * and then empties the list, so kafkajs's own filter has nothing left to do. Applied only to the pinned
 * kafkajs version (lib/kafkajs/version.ts).
 */
import { type AdaptationStatus, type BrokerAdaptationOptions, installBrokerAdaptation } from './adaptation';

/** A record as kafkajs's fetch decoder gives it (the fields read or changed here). */
export interface FetchedRecord {
  offset: string;
  key: Buffer | null;
  isControlRecord: boolean;
  batchContext?: { producerId: string; inTransaction: boolean };
}

/** One partition of a fetch answer, as kafkajs decodes it. */
export interface FetchedPartition {
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
  messages: FetchedRecord[];
}

/** A control record's key: version (int16), type (int16); type 0 is ABORT, 1 is COMMIT. */
function isAbortMarker(key: Buffer | null): boolean {
  return key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}

/**
 * Marks the records of aborted transactions in one partition's answer as control records (hidden) and
 * empties its list of aborted transactions. Returns how many it hid.
 */
export function hideAbortedRecords(partition: FetchedPartition): number {
  const aborted = partition.abortedTransactions;
  if (aborted === undefined || aborted.length === 0) return 0;
  const starts = aborted
    .map((t) => ({ producerId: t.producerId, first: BigInt(t.firstOffset) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const open = new Set<string>();
  let next = 0;
  let hidden = 0;
  for (const record of partition.messages) {
    const offset = BigInt(record.offset);
    for (let s = starts[next]; s !== undefined && s.first <= offset; s = starts[++next])
      open.add(s.producerId);
    const batch = record.batchContext;
    if (batch === undefined) continue;
    if (record.isControlRecord) {
      if (isAbortMarker(record.key)) open.delete(batch.producerId);
    } else if (batch.inTransaction && open.has(batch.producerId)) {
      record.isControlRecord = true;
      hidden++;
    }
  }
  partition.abortedTransactions = [];
  return hidden;
}

interface FetchResponse {
  responses?: Array<{ partitions?: FetchedPartition[] }>;
}

interface BrokerPrototype {
  fetch(this: unknown, request: unknown): Promise<FetchResponse>;
}

/** Installs the filter (once per Broker prototype) and says whether it is active. */
export function installReadCommitted(options: BrokerAdaptationOptions = {}): AdaptationStatus {
  return installBrokerAdaptation<BrokerPrototype>({
    name: 'read-committed',
    options,
    methods: ['fetch'],
    apply: (proto) => {
      const original = proto.fetch;
      proto.fetch = async function (this: unknown, request: unknown) {
        const response = await original.call(this, request);
        for (const topic of response.responses ?? []) {
          for (const partition of topic.partitions ?? []) hideAbortedRecords(partition);
        }
        return response;
      };
    },
  });
}
