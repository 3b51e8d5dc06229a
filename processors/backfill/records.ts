/**
 * The records of the backfill topic (TOPIC_BACKFILL, compacted, co-partitioned with the raw topic by
 * grant): the public contract between the processor, the CLI and the backfill coordinator
 * (processors/backfill/coordinator.ts).
 *
 *   key (JSON array)                  value (JSON)                       written by
 *   ["fact", grantId, notificationId] LifecycleFact                      the processor, in the transaction of the grant's domain event
 *   ["request", grantId, requestId]   BackfillRequest                    `nylas-stream backfill --execute`
 *   ["grant", grantId]                GrantBackfillState (null: forgot)  the coordinator
 *   ["listed", grantId, requestId, family, page]
 *                                     ListedPage                         the coordinator, with the page
 *
 * Listed pages record the ids a whole listing (contacts, calendars, folders) returned, page by page, until
 * the backfill completes and reconciles them against the known objects (known-objects.ts); they are
 * tombstoned when their backfill ends, whatever its outcome.
 *
 * Facts and requests are inputs: the coordinator folds each into its grant's state and, in the same
 * transaction, writes the new state and a tombstone for the input's key, so compaction removes applied
 * inputs and an input without a tombstone is one not yet applied. The grant's state is the only record
 * that stays: one per grant, for as long as the grant exists (a grant can stay expired for weeks, far
 * beyond any retention a time-based topic could have).
 *
 * Every record goes to the partition of its grant (the raw topic's partitioner over the grant id), so
 * whoever owns raw partition p owns every fact, request and state of its grants on backfill partition p.
 */
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { isObj, type Obj } from '../../lib/json';

/** What a backfill lists (docs/nylas-contract.md §7). */
export const BACKFILL_FAMILIES = ['messages', 'events', 'contacts', 'calendars', 'folders'] as const;
export type BackfillFamily = (typeof BACKFILL_FAMILIES)[number];

/** The object type of a family: its notifications' type prefix and `object` field, and the processor's
 * trigger family. */
export const OBJECT_TYPE: Readonly<Record<BackfillFamily, string>> = {
  messages: 'message',
  events: 'event',
  contacts: 'contact',
  calendars: 'calendar',
  folders: 'folder',
};

export type BackfillReason = 'reauthentication' | 'first_auth' | 'manual';

/** A grant.* notification the processor emitted, reduced to what the lifecycle needs. */
export interface LifecycleFact {
  kind: 'fact';
  /** The notification id (exactly-once: the processor emits each grant event once). */
  id: string;
  grantId: string;
  applicationId: string;
  action: 'created' | 'updated' | 'expired' | 'deleted';
  /** Envelope `time`, Unix seconds (Nylas's clock). */
  at: number;
  /** `grant_updated_at` of a grant.expired: the last successful sync, Unix seconds. */
  grantUpdatedAt?: number;
  /** grant.updated with `reauthentication_flag` or code 25027. */
  reauthenticated: boolean;
}

export interface BackfillRequest {
  kind: 'request';
  id: string;
  grantId: string;
  applicationId?: string;
  reason: BackfillReason;
  /** The window, Unix seconds (Nylas's clock): messages received and events updated in [since, until]. */
  since: number;
  until: number;
  families: BackfillFamily[];
  /** Wall-clock epoch ms when it was requested. */
  requestedAt: number;
}

/** Where a running backfill is: the listing it is in and the cursor of its next page. */
export interface BackfillPosition {
  /** Index into the request's listings (listing.ts: listingsOf). */
  listing: number;
  /** Calendars of the grant, kept when the calendars listing ends (events are listed per calendar), so
   * a resumed backfill lists the events of the same ones. */
  calendarIds?: string[];
  /** Within the events listing: the index into calendarIds. */
  calendar?: number;
  /** `page_token` of the next page (null: the listing's first page). */
  cursor: string | null;
}

export interface RunningBackfill {
  request: BackfillRequest;
  position: BackfillPosition;
  /** Objects written to the raw topic so far, pages read, API calls made (retries included). */
  objects: number;
  pages: number;
  calls: number;
  /** Wall-clock epoch ms. */
  startedAt: number;
  /** Set when the API answered 401 (the grant expired again): the backfill waits for the grant's next
   * re-authentication (or a new request) instead of retrying a call that cannot succeed. */
  blocked?: { at: number; detail: string };
  /** Per family listed whole (contacts, calendars, folders): when Nylas answered its first page (Unix s,
   * Nylas's clock). Reconciliation judges only objects last emitted before it. */
  listedFrom?: Partial<Record<BackfillFamily, number>>;
}

/** The ids one page of a whole listing returned (key ["listed", grantId, requestId, family, page]). */
export interface ListedPage {
  kind: 'listed';
  family: BackfillFamily;
  ids: string[];
}

export interface FinishedBackfill {
  id: string;
  reason: BackfillReason;
  outcome: 'completed' | 'failed' | 'cancelled';
  /** Why it failed or was cancelled (e.g. "401: the grant expired again"). */
  detail?: string;
  objects: number;
  calls: number;
  /** Known objects a completed backfill emitted as deleted (reconcile.ts); absent: none. */
  deleted?: number;
  finishedAt: number;
}

/** Everything the coordinator remembers about one grant. */
export interface GrantBackfillState {
  kind: 'grant';
  grantId: string;
  applicationId?: string;
  /** Unix seconds (Nylas's clock) of the lifecycle's facts. */
  createdAt?: number;
  /** Set while the grant is expired (cleared by its re-authentication). */
  expiredAt?: number;
  lastSyncAt?: number;
  reauthenticatedAt?: number;
  running?: RunningBackfill;
  /** Requests waiting behind the running one, oldest first. */
  queued: BackfillRequest[];
  last?: FinishedBackfill;
}

export function factKey(grantId: string, id: string): string {
  return JSON.stringify(['fact', grantId, id]);
}

export function requestKey(grantId: string, id: string): string {
  return JSON.stringify(['request', grantId, id]);
}

export function grantKey(grantId: string): string {
  return JSON.stringify(['grant', grantId]);
}

export function listedKey(grantId: string, requestId: string, family: BackfillFamily, page: number): string {
  return JSON.stringify(['listed', grantId, requestId, family, page]);
}

export type ParsedKey =
  | { kind: 'fact' | 'request'; grantId: string; id: string }
  | { kind: 'grant'; grantId: string }
  | { kind: 'listed'; grantId: string; requestId: string };

/** A record key of ours: a JSON array (undefined: not one). */
export function jsonArrayKey(key: Buffer | string | null): unknown[] | undefined {
  if (key === null) return undefined;
  try {
    const k: unknown = JSON.parse(key.toString());
    return Array.isArray(k) ? k : undefined;
  } catch {
    return undefined;
  }
}

export function parseKey(key: Buffer | string | null): ParsedKey | undefined {
  const k = jsonArrayKey(key);
  if (k === undefined || typeof k[1] !== 'string' || k[1] === '') return undefined;
  if (k[0] === 'grant' && k.length === 2) return { kind: 'grant', grantId: k[1] };
  if ((k[0] === 'fact' || k[0] === 'request') && k.length === 3 && typeof k[2] === 'string')
    return { kind: k[0], grantId: k[1], id: k[2] };
  if (k[0] === 'listed' && k.length === 5 && typeof k[2] === 'string')
    return { kind: 'listed', grantId: k[1], requestId: k[2] };
  return undefined;
}

function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function families(v: unknown): BackfillFamily[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  const out: BackfillFamily[] = [];
  for (const f of v) {
    if (!(BACKFILL_FAMILIES as readonly unknown[]).includes(f)) return undefined;
    if (!out.includes(f as BackfillFamily)) out.push(f as BackfillFamily);
  }
  return out;
}

/** A request as written, or why it is not one (a request a human typed must fail loudly, not vanish). */
export function parseRequest(v: unknown): BackfillRequest | string {
  if (!isObj(v) || v.kind !== 'request') return 'not a backfill request';
  const id = text(v.id);
  const grantId = text(v.grantId);
  const since = int(v.since);
  const until = int(v.until);
  const fams = families(v.families);
  const reason = v.reason;
  if (id === undefined || grantId === undefined) return 'id and grantId must be non-empty strings';
  if (since === undefined || until === undefined || since > until)
    return 'since and until must be Unix seconds with since <= until';
  if (fams === undefined) return `families must be a non-empty list of ${BACKFILL_FAMILIES.join(', ')}`;
  if (reason !== 'reauthentication' && reason !== 'first_auth' && reason !== 'manual')
    return 'reason must be reauthentication, first_auth or manual';
  const applicationId = text(v.applicationId);
  return {
    kind: 'request',
    id,
    grantId,
    ...(applicationId === undefined ? {} : { applicationId }),
    reason,
    since,
    until,
    families: fams,
    requestedAt: int(v.requestedAt) ?? 0,
  };
}

export function parseFact(v: unknown): LifecycleFact | string {
  if (!isObj(v) || v.kind !== 'fact') return 'not a lifecycle fact';
  const id = text(v.id);
  const grantId = text(v.grantId);
  const at = int(v.at);
  const action = v.action;
  if (id === undefined || grantId === undefined || at === undefined) return 'id, grantId and at are required';
  if (action !== 'created' && action !== 'updated' && action !== 'expired' && action !== 'deleted')
    return `unknown action ${String(action)}`;
  const grantUpdatedAt = int(v.grantUpdatedAt);
  return {
    kind: 'fact',
    id,
    grantId,
    applicationId: text(v.applicationId) ?? '',
    action,
    at,
    ...(grantUpdatedAt === undefined ? {} : { grantUpdatedAt }),
    reauthenticated: v.reauthenticated === true,
  };
}

/** A listed page (the coordinator's own record: only its shape checked). */
export function parseListedPage(v: unknown): ListedPage | undefined {
  if (!isObj(v) || v.kind !== 'listed' || !Array.isArray(v.ids)) return undefined;
  const family = families([v.family])?.[0];
  if (family === undefined) return undefined;
  return { kind: 'listed', family, ids: v.ids.filter((id): id is string => typeof id === 'string') };
}

/** The coordinator's own record: trusted as written (it wrote it), only its shape checked. */
export function parseGrantState(v: unknown): GrantBackfillState | undefined {
  if (!isObj(v) || v.kind !== 'grant' || text(v.grantId) === undefined || !Array.isArray(v.queued))
    return undefined;
  return v as unknown as GrantBackfillState;
}

export function parseValue(value: Buffer | string | null): Obj | null | undefined {
  if (value === null) return null;
  try {
    const v: unknown = JSON.parse(value.toString());
    return isObj(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** kafkajs's default partitioner (murmur2 of the key, as the ingress and processor produce with). */
const defaultPartitioner = Partitioners.DefaultPartitioner();

/** The partition of `grantId` among `partitions`: where its raw records, and so its backfill records, go. */
export function grantPartition(grantId: string, partitions: number): number {
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return defaultPartitioner({ topic: 'backfill', partitionMetadata, message: { key: grantId, value: null } });
}
