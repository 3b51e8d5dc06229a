/**
 * The simulated Nylas world: grants and their objects, in the shapes the REST API serves (§4.2). It is
 * seeded and reproducible, and it is the oracle: it knows every object's current state, and remembers
 * deleted ones, so a test can compare what the pipeline emitted with what is true.
 *
 * Two clocks meet here. `now()` is simulated Unix seconds (it stamps objects and notifications and
 * advances as traffic is generated). `createdAtMs` is wall time, because the API's
 * 404-right-after-create fault (§4.2, support article) is about real request timing.
 */
import { cloneJson } from './clone';
import {
  DEFAULT_BODY_SIZES,
  makeCalendar,
  makeContact,
  makeEvent,
  makeGrant,
  makeLabel,
  makeMessage,
  sampleBodySize,
  systemFolders,
  threadOf,
} from './factories';
import { Random } from './random';
import { materializeBody } from './text';
import {
  type BodySpec,
  type GrantRecord,
  type GrantStatus,
  type NylasObject,
  OBJECT_KINDS,
  type ObjectKind,
  type ObjectRecord,
} from './types';

export interface WorldOptions {
  seed: number;
  grants: number;
  applicationId?: string;
  /** Simulated start time, Unix seconds (default: now). Same seed + same start → same world. */
  startTime?: number;
  /** Objects each grant starts with (before any notification). Defaults keep createWorld fast. */
  initialObjects?: Partial<Record<'messages' | 'events' | 'contacts' | 'labels' | 'calendars', number>>;
}

/** The oracle's view of one object: its final state, or that it was deleted. */
export interface FinalObjectState {
  grantId: string;
  kind: ObjectKind;
  id: string;
  deleted: boolean;
  /** Final REST state (without message bodies, which are summarized by `bodyBytes`). */
  state: NylasObject | null;
  bodyBytes?: number;
  revision: number;
}

type KindStore = Map<string, ObjectRecord>;

export class World {
  readonly seed: number;
  readonly applicationId: string;
  readonly grantIds: string[] = [];
  /** Random source for callers that evolve this world (forked per purpose for stable sequences). */
  readonly random: Random;

  private simNow: number;
  private readonly grants = new Map<string, GrantRecord>();
  private readonly byEmail = new Map<string, string>();
  private readonly store = new Map<string, Map<ObjectKind, KindStore>>();
  /** grant → thread id → ids of its live messages. Threads are derived from their messages when read
   * (unless a thread was upserted explicitly), so adding a message costs no thread rebuild. */
  private readonly threadIndex = new Map<string, Map<string, Set<string>>>();
  /** grant → thread id → how many times the thread's membership or messages changed. */
  private readonly threadRevisions = new Map<string, Map<string, number>>();

  constructor(options: WorldOptions) {
    if (!Number.isInteger(options.grants) || options.grants < 0)
      throw new RangeError(`grants must be a non-negative integer, got ${options.grants}`);
    this.seed = options.seed;
    this.random = new Random(options.seed);
    const rng = this.random.fork('world');
    this.applicationId = options.applicationId ?? rng.uuid();
    this.simNow = options.startTime ?? Math.floor(Date.now() / 1000);
    const counts = {
      messages: 3,
      events: 2,
      contacts: 2,
      labels: 1,
      calendars: 2,
      ...options.initialObjects,
    };
    for (let i = 0; i < options.grants; i++) {
      const grant = makeGrant(rng, this.simNow);
      this.addGrant(grant);
      for (const f of systemFolders(grant.id)) this.upsertObject(grant.id, 'folders', f);
      for (let j = 0; j < counts.labels; j++)
        this.upsertObject(grant.id, 'folders', makeLabel(rng, grant.id));
      const calendarIds: string[] = [];
      for (let j = 0; j < Math.max(1, counts.calendars); j++) {
        const cal = makeCalendar(rng, grant, j === 0);
        calendarIds.push(String(cal.id));
        this.upsertObject(grant.id, 'calendars', cal);
      }
      for (let j = 0; j < counts.contacts; j++)
        this.upsertObject(grant.id, 'contacts', makeContact(rng, grant.id));
      for (let j = 0; j < counts.events; j++)
        this.upsertObject(
          grant.id,
          'events',
          makeEvent(rng, grant, rng.pick(calendarIds), this.simNow - rng.int(60, 86_400)),
        );
      for (let j = 0; j < counts.messages; j++) {
        const draft = makeMessage(rng, grant, {
          date: this.simNow - rng.int(60, 30 * 86_400),
          bodySize: sampleBodySize(rng, { ...DEFAULT_BODY_SIZES, largeRate: 0, mediumRate: 0 }),
        });
        this.putMessage(grant.id, draft.data, draft.body);
      }
    }
  }

  // ---- time -------------------------------------------------------------------------------------

  /** Simulated Unix seconds. */
  now(): number {
    return this.simNow;
  }

  /** Moves simulated time forward (never backward). */
  advance(seconds: number): number {
    if (seconds > 0) this.simNow += Math.floor(seconds);
    return this.simNow;
  }

  // ---- grants -----------------------------------------------------------------------------------

  addGrant(grant: GrantRecord): void {
    if (!this.grants.has(grant.id)) this.grantIds.push(grant.id);
    this.grants.set(grant.id, grant);
    this.byEmail.set(grant.email.toLowerCase(), grant.id);
    if (!this.store.has(grant.id)) this.store.set(grant.id, new Map(OBJECT_KINDS.map((k) => [k, new Map()])));
  }

  /** Looks a grant up by id, by email, or by `email:<addr>` (§4.2: `{grant_id}` may be any of these). */
  getGrant(identifier: string): GrantRecord | undefined {
    const direct = this.grants.get(identifier);
    if (direct) return { ...direct, scope: [...direct.scope] };
    const email = identifier.startsWith('email:') ? identifier.slice(6) : identifier;
    const id = this.byEmail.get(email.toLowerCase());
    const g = id === undefined ? undefined : this.grants.get(id);
    return g ? { ...g, scope: [...g.scope] } : undefined;
  }

  /** The stored grant without copying (read-only by contract; for hot paths). */
  peekGrant(grantId: string): Readonly<GrantRecord> | undefined {
    return this.grants.get(grantId);
  }

  listGrants(): GrantRecord[] {
    return this.grantIds.map((id) => this.getGrant(id) as GrantRecord);
  }

  /** `invalid` makes the REST API answer 401 for the grant (§7). Re-validating stamps `updated_at`
   * ("when the user last authenticated"). */
  setGrantStatus(grantId: string, status: GrantStatus): void {
    const g = this.requireGrant(grantId);
    if (g.grant_status === status) return;
    g.grant_status = status;
    if (status === 'valid') g.updated_at = this.simNow;
  }

  // ---- objects ----------------------------------------------------------------------------------

  /** Inserts or replaces an object (it must have a string `id`). A message may carry its body inline
   * or, for generated traffic, as a lazily built BodySpec. */
  upsertObject(grantId: string, kind: ObjectKind, obj: NylasObject, lazyBody?: BodySpec): void {
    this.adoptObject(grantId, kind, cloneJson(obj), lazyBody);
  }

  /** Like upsertObject, but takes ownership of `obj` instead of copying it: the caller must never
   * mutate it afterwards. Used by the traffic generator, where copying every object dominated the cost. */
  adoptObject(grantId: string, kind: ObjectKind, obj: NylasObject, lazyBody?: BodySpec): void {
    const id = obj.id;
    if (typeof id !== 'string' || id === '') throw new TypeError(`${kind} object needs a string id`);
    const kindStore = this.kindStore(grantId, kind);
    const prev = kindStore.get(id);
    const data = obj;
    if (lazyBody !== undefined && 'body' in data) delete data.body;
    kindStore.set(id, {
      kind,
      grantId,
      id,
      data,
      lazyBody: lazyBody ?? (data.body === undefined ? prev?.lazyBody : undefined),
      createdAtMs: prev?.data !== undefined ? prev.createdAtMs : Date.now(),
      revision: (prev?.revision ?? 0) + 1,
      changedAt: this.simNow,
    });
  }

  /** Deletes an object: the API answers 404 for it from now on; the oracle remembers the deletion. */
  deleteObject(grantId: string, kind: ObjectKind, id: string): void {
    const kindStore = this.kindStore(grantId, kind);
    const prev = kindStore.get(id);
    kindStore.set(id, {
      kind,
      grantId,
      id,
      data: undefined,
      lazyBody: undefined,
      createdAtMs: prev?.createdAtMs ?? Date.now(),
      revision: (prev?.revision ?? 0) + 1,
      changedAt: this.simNow,
    });
  }

  /** The object's current REST state (a copy, body included), or undefined if absent or deleted. */
  getObject(grantId: string, kind: ObjectKind, id: string): NylasObject | undefined {
    const rec = this.getRecord(grantId, kind, id);
    return rec?.data === undefined ? undefined : this.materialize(rec);
  }

  /** Bookkeeping for one object (current or deleted), without copying it. */
  getRecord(grantId: string, kind: ObjectKind, id: string): Readonly<ObjectRecord> | undefined {
    const rec = this.store.get(grantId)?.get(kind)?.get(id);
    if (rec || kind !== 'threads') return rec;
    return this.derivedThread(grantId, id);
  }

  /** Records of one kind, current and deleted (derived threads included). */
  private *records(grantId: string, kind: ObjectKind): Iterable<ObjectRecord> {
    const kindStore = this.store.get(grantId)?.get(kind);
    if (kindStore) yield* kindStore.values();
    if (kind !== 'threads') return;
    for (const threadId of this.threadRevisions.get(grantId)?.keys() ?? []) {
      if (kindStore?.has(threadId)) continue;
      const rec = this.derivedThread(grantId, threadId);
      if (rec) yield rec;
    }
  }

  /** Live objects of one kind, as copies. Message bodies are included only when `withBodies`. */
  listObjects(grantId: string, kind: ObjectKind, options: { withBodies?: boolean } = {}): NylasObject[] {
    const out: NylasObject[] = [];
    for (const rec of this.records(grantId, kind)) {
      if (rec.data === undefined) continue;
      out.push(options.withBodies === false ? cloneJson(rec.data) : this.materialize(rec));
    }
    return out;
  }

  /** Ids of live objects of one kind (no copies; for generators choosing what to change). */
  liveIds(grantId: string, kind: ObjectKind): string[] {
    const out: string[] = [];
    for (const rec of this.records(grantId, kind)) if (rec.data !== undefined) out.push(rec.id);
    return out;
  }

  /** Adds or replaces a message and keeps its thread consistent (threads are derived from messages). */
  putMessage(
    grantId: string,
    message: NylasObject,
    lazyBody?: BodySpec,
    options: { adopt?: boolean } = {},
  ): void {
    const id = String(message.id);
    const oldThread = this.getRecord(grantId, 'messages', id)?.data?.thread_id;
    const threadId = String(message.thread_id ?? message.id);
    this.adoptObject(grantId, 'messages', options.adopt ? message : cloneJson(message), lazyBody);
    if (typeof oldThread === 'string' && oldThread !== threadId) {
      this.threadMembers(grantId, oldThread).delete(id);
      this.touchThread(grantId, oldThread);
    }
    this.threadMembers(grantId, threadId).add(id);
    this.touchThread(grantId, threadId);
  }

  /** Deletes a message and updates (or deletes) its thread. */
  removeMessage(grantId: string, id: string): void {
    const threadId = this.getRecord(grantId, 'messages', id)?.data?.thread_id;
    this.deleteObject(grantId, 'messages', id);
    if (typeof threadId === 'string') {
      this.threadMembers(grantId, threadId).delete(id);
      this.touchThread(grantId, threadId);
    }
  }

  /** The oracle: the final state of every object that exists or existed, in a stable order. */
  finalState(options: { kinds?: readonly ObjectKind[] } = {}): FinalObjectState[] {
    const kinds = options.kinds ?? OBJECT_KINDS;
    const out: FinalObjectState[] = [];
    for (const grantId of this.grantIds) {
      for (const kind of kinds) {
        for (const rec of this.records(grantId, kind)) {
          const entry: FinalObjectState = {
            grantId,
            kind,
            id: rec.id,
            deleted: rec.data === undefined,
            state: rec.data === undefined ? null : cloneJson(rec.data),
            revision: rec.revision,
          };
          if (rec.lazyBody) entry.bodyBytes = rec.lazyBody.size;
          else if (rec.data && typeof rec.data.body === 'string')
            entry.bodyBytes = Buffer.byteLength(rec.data.body);
          out.push(entry);
        }
      }
    }
    return out;
  }

  // ---- internals --------------------------------------------------------------------------------

  private requireGrant(grantId: string): GrantRecord {
    const g = this.grants.get(grantId);
    if (!g) throw new RangeError(`unknown grant ${grantId}`);
    return g;
  }

  private kindStore(grantId: string, kind: ObjectKind): KindStore {
    this.requireGrant(grantId);
    const s = this.store.get(grantId)?.get(kind);
    if (!s) throw new RangeError(`unknown object kind ${kind}`);
    return s;
  }

  private materialize(rec: ObjectRecord): NylasObject {
    const copy = cloneJson(rec.data as NylasObject);
    if (rec.lazyBody) copy.body = materializeBody(rec.lazyBody);
    return copy;
  }

  private threadMembers(grantId: string, threadId: string): Set<string> {
    let byThread = this.threadIndex.get(grantId);
    if (!byThread) {
      byThread = new Map();
      this.threadIndex.set(grantId, byThread);
    }
    let members = byThread.get(threadId);
    if (!members) {
      members = new Set();
      byThread.set(threadId, members);
    }
    return members;
  }

  private touchThread(grantId: string, threadId: string): void {
    let revisions = this.threadRevisions.get(grantId);
    if (!revisions) {
      revisions = new Map();
      this.threadRevisions.set(grantId, revisions);
    }
    revisions.set(threadId, (revisions.get(threadId) ?? 0) + 1);
  }

  /** The REST thread built from its live messages; a deleted thread once its last message is gone. */
  private derivedThread(grantId: string, threadId: string): ObjectRecord | undefined {
    const revision = this.threadRevisions.get(grantId)?.get(threadId);
    if (revision === undefined) return undefined;
    const messages: NylasObject[] = [];
    let createdAtMs = Number.POSITIVE_INFINITY;
    let changedAt = 0;
    const messageStore = this.store.get(grantId)?.get('messages');
    for (const id of this.threadMembers(grantId, threadId)) {
      const rec = messageStore?.get(id);
      if (rec?.data === undefined) continue;
      messages.push(rec.data);
      createdAtMs = Math.min(createdAtMs, rec.createdAtMs);
      changedAt = Math.max(changedAt, rec.changedAt);
    }
    return {
      kind: 'threads',
      grantId,
      id: threadId,
      data: messages.length ? threadOf(grantId, threadId, messages) : undefined,
      lazyBody: undefined,
      createdAtMs: Number.isFinite(createdAtMs) ? createdAtMs : 0,
      revision,
      changedAt,
    };
  }
}

export function createWorld(options: WorldOptions): World {
  return new World(options);
}
