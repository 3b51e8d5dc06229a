/**
 * The state changelog on the compacted topic `nylas-stream-processor.state`. Every key starts with the
 * input partition it belongs to; records go to state partition `inputPartition mod statePartitions` (equal
 * counts by default, so each input partition has its own), and a restore reads that partition from the
 * beginning and keeps its own keys.
 *
 *   key (JSON array)              value (JSON, or null = Kafka tombstone)
 *   [partition, "b", bucketId]    {"e": expiresAtMs, "d": [notificationId…], "v": [[grant, type, id, version, offset, deleted]…]}
 *   [partition, "p"]              {"n": next, "t": through, "u": [unprocessed offsets…]}
 *   [partition, "r"]              {"at": ms}   (`replay --reset-state`: forget everything before it)
 *
 * A bucket holds what one transaction remembered (dedupe ids and the new last version of each object it
 * changed), cut at ~256 KiB. Writing one record per transaction instead of one per entry is what keeps
 * the changelog cheap next to the domain events (the entries are tiny; per-record costs dominate).
 * Everything in a bucket expires together, DEDUPE_WINDOW after it was written; the bucket is then
 * tombstoned, and compaction removes it, so the topic holds about one window of changes. Buckets are
 * applied in log order on restore, so a later write of an entry wins; a tombstoned bucket can only hold
 * expired entries (a rewritten entry lives on in its newer bucket), which the store drops by time anyway.
 * The reset marker is the one record that forgets live entries: compaction keeps its latest value at its
 * place in the log, so a restore forgets what came before it and keeps what was written after.
 */
import { randomBytes } from 'node:crypto';
import type { Message } from 'kafkajs';
import { isObj } from '../../lib/json';
import type { Progress, StateChange } from './store';

export function statePartitionFor(inputPartition: number, statePartitions: number): number {
  return inputPartition % statePartitions;
}

/** Bucket record values stay well under the state topic's max.message.bytes (1 MiB, lib/topics.ts). Ids
 * are bounded (state/keys.ts), so one entry is at most a few KiB and a bucket never outgrows its cap by
 * more than one entry. */
export const MAX_BUCKET_BYTES = 256 * 1024;

type VersionRow = [string, string, string, string, string, 0 | 1];

/** Printable ASCII without `"` and `\`: JSON writes it as is, one byte per character. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Bytes `s` takes as a JSON string in the record (quotes and comma included). Ids are plain in practice;
 * any other one is measured, so escapes and multi-byte characters cannot push a bucket past its cap. */
function jsonBytes(s: string): number {
  return (PLAIN.test(s) ? s.length : Buffer.byteLength(JSON.stringify(s))) + 3;
}

export interface EncodedChanges {
  messages: Message[];
  /** The bucket bookkeeping to apply with the changes once the transaction commits. */
  tracking: StateChange[];
}

function newBucketId(): string {
  return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * The changelog records for one transaction of one input partition: its dedupe and version changes in
 * bucket records, the progress marker if it changed, and tombstones for forgotten buckets.
 */
export function changelogMessages(
  inputPartition: number,
  statePartition: number,
  changes: readonly StateChange[],
  options: { maxBucketBytes?: number; bucketId?: () => string } = {},
): EncodedChanges {
  const maxBytes = options.maxBucketBytes ?? MAX_BUCKET_BYTES;
  const makeId = options.bucketId ?? newBucketId;
  const messages: Message[] = [];
  const tracking: StateChange[] = [];
  let ids: string[] = [];
  let versions: VersionRow[] = [];
  let bytes = 0;
  let expiresAt = 0;
  const flush = () => {
    if (ids.length === 0 && versions.length === 0) return;
    const id = makeId();
    messages.push({
      key: JSON.stringify([inputPartition, 'b', id]),
      value: JSON.stringify({ e: expiresAt, d: ids, v: versions }),
      partition: statePartition,
    });
    tracking.push({ kind: 'bucket', id, expiresAt });
    ids = [];
    versions = [];
    bytes = 0;
    expiresAt = 0;
  };
  for (const c of changes) {
    switch (c.kind) {
      case 'dedupe': {
        const size = jsonBytes(c.id);
        if (bytes + size > maxBytes) flush();
        ids.push(c.id);
        bytes += size;
        expiresAt = Math.max(expiresAt, c.expiresAt);
        break;
      }
      case 'version': {
        const row: VersionRow = [
          c.key.grantId,
          c.key.objectType,
          c.key.objectId,
          c.entry.version.toString(),
          c.entry.offset,
          c.entry.deleted ? 1 : 0,
        ];
        const size =
          jsonBytes(row[0]) + jsonBytes(row[1]) + jsonBytes(row[2]) + row[3].length + row[4].length + 12;
        if (bytes + size > maxBytes) flush();
        versions.push(row);
        bytes += size;
        expiresAt = Math.max(expiresAt, c.expiresAt);
        break;
      }
      case 'progress':
        messages.push({
          key: JSON.stringify([inputPartition, 'p']),
          value:
            c.progress === null
              ? null
              : JSON.stringify({ n: c.progress.next, t: c.progress.through, u: c.progress.unprocessed }),
          partition: statePartition,
        });
        break;
      case 'forget-bucket':
        messages.push({
          key: JSON.stringify([inputPartition, 'b', c.id]),
          value: null,
          partition: statePartition,
        });
        break;
      case 'reset':
        messages.push({
          key: resetMarkerKey(inputPartition),
          value: resetMarkerValue(),
          partition: statePartition,
        });
        break;
      case 'bucket':
        break;
    }
  }
  flush();
  return { messages, tracking };
}

/**
 * Decodes one changelog record back into the changes it holds (restore). Records of other input
 * partitions sharing the state partition, and records that do not parse, give [].
 */
export function changesFromRecord(
  inputPartition: number,
  key: Buffer | null,
  value: Buffer | null,
): StateChange[] {
  if (key === null) return [];
  let k: unknown;
  let v: unknown = null;
  try {
    k = JSON.parse(key.toString('utf8'));
    if (value !== null) v = JSON.parse(value.toString('utf8'));
  } catch {
    return [];
  }
  if (!Array.isArray(k) || k[0] !== inputPartition) return [];
  if (k[1] === 'b' && typeof k[2] === 'string') {
    if (v === null) return [{ kind: 'forget-bucket', id: k[2] }];
    if (!isObj(v) || typeof v.e !== 'number' || !Array.isArray(v.d) || !Array.isArray(v.v)) return [];
    const expiresAt = v.e;
    const out: StateChange[] = [];
    for (const id of v.d) {
      if (typeof id !== 'string') continue;
      out.push({ kind: 'dedupe', id, expiresAt });
    }
    for (const row of v.v) {
      if (!Array.isArray(row) || row.length < 6) continue;
      const [grantId, objectType, objectId, version, offset, deleted] = row as VersionRow;
      out.push({
        kind: 'version',
        key: { grantId, objectType, objectId },
        entry: { version: BigInt(version), offset, deleted: deleted === 1 },
        expiresAt,
      });
    }
    out.push({ kind: 'bucket', id: k[2], expiresAt });
    return out;
  }
  if (k[1] === 'r') return v === null ? [] : [{ kind: 'reset' }];
  if (k[1] === 'p') {
    if (v === null) return [{ kind: 'progress', progress: null }];
    if (isObj(v) && typeof v.n === 'string' && typeof v.t === 'string' && Array.isArray(v.u)) {
      const progress: Progress = { next: v.n, through: v.t, unprocessed: v.u.map(String) };
      return [{ kind: 'progress', progress }];
    }
  }
  return [];
}

/** The reset marker `replay --reset-state` writes after its tombstones (cli/ops/state-reset.ts). */
export function resetMarkerKey(inputPartition: number): string {
  return JSON.stringify([inputPartition, 'r']);
}

export function resetMarkerValue(at = Date.now()): string {
  return JSON.stringify({ at });
}
