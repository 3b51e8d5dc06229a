/**
 * How the world evolves: one function per trigger that changes the world consistently and describes
 * the change in its notification shape (docs/nylas-contract.md §3.2). The payload layer
 * (payloads/generator.ts) turns a WorldChange into an envelope; this file never builds envelopes.
 *
 * While a grant is invalid, Nylas stops notifying about it (§7) except `message.opened`; provider-side
 * changes still happen and are held. On re-authentication within 72 hours the held changes are
 * backfilled as the objects' current state; after longer outages they are never sent (§7, 72-hour rule).
 */
import { cloneJson } from './clone';
import {
  type BodySizeDistribution,
  makeCalendar,
  makeContact,
  makeEvent,
  makeGrant,
  makeLabel,
  makeMessage,
  messageId,
  person,
  sampleBodySize,
  systemFolders,
} from './factories';
import type { Random } from './random';
import { sentence } from './text';
import type { BodySpec, GrantRecord, NylasObject, ObjectKind } from './types';
import type { World } from './world';

export interface WorldChange {
  /** Base trigger type, e.g. `message.created` (variants and `.truncated` are added by payloads/). */
  type: string;
  grantId: string;
  /** `data.object` in its notification shape (null for some send_failed). */
  object: NylasObject | null;
  /** A message body still to be built (decided lazily so a 1 MB body is never built just to drop it). */
  lazyBody?: BodySpec;
  /** §1: triggers that carry `grant_id` at the `data` level. */
  dataGrantId?: boolean;
  /** `reason` / `error` on send_failed (§3.2). */
  dataExtras?: Record<string, unknown>;
  /** The REST object this change is about, when there is one (for the oracle). */
  ref?: { kind: ObjectKind; id: string };
  /** The object's version per the contract's ordering fields (§5), for the oracle's expectations. */
  version?: { updated_at?: number; sequence?: number; count?: number };
  sync?: 'realtime' | 'incremental' | 'historic';
  /** Set on notifications sent as re-authentication backfill (§7). */
  backfill?: boolean;
}

/** Triggers the generator knows how to produce (base types). */
export const GENERATED_TRIGGERS = [
  'message.created',
  'message.updated',
  'message.deleted',
  'message.send_success',
  'message.send_failed',
  'message.bounce_detected',
  'message.opened',
  'message.link_clicked',
  'thread.replied',
  'event.created',
  'event.updated',
  'event.deleted',
  'calendar.created',
  'calendar.updated',
  'calendar.deleted',
  'contact.updated',
  'contact.deleted',
  'folder.created',
  'folder.updated',
  'folder.deleted',
  'grant.created',
  'grant.updated',
  'grant.expired',
  'grant.deleted',
  'notetaker.created',
  'notetaker.updated',
  'notetaker.meeting_state',
  'notetaker.media',
  'notetaker.deleted',
] as const;
export type GeneratedTrigger = (typeof GENERATED_TRIGGERS)[number];

/** A set of ids with O(1) add, remove and random pick (choosing what to change must not scan). */
class IdPool {
  private readonly ids: string[] = [];
  private readonly index = new Map<string, number>();
  add(id: string): void {
    if (this.index.has(id)) return;
    this.index.set(id, this.ids.length);
    this.ids.push(id);
  }
  remove(id: string): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.ids.pop() as string;
    if (last !== id) {
      this.ids[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(id);
  }
  pick(rng: Random): string | undefined {
    return this.ids.length ? this.ids[Math.floor(rng.next() * this.ids.length)] : undefined;
  }
  get size(): number {
    return this.ids.length;
  }
}

interface TrackingState {
  opens: number;
  clicks: number[];
  replies: number;
  recents: NylasObject[];
  clickRecents: NylasObject[];
  label: string;
}

const SEVENTY_TWO_HOURS = 72 * 3600;

/**
 * Changes the world one notification-worthy step at a time. Holds what the world itself does not:
 * tracking counters, notetakers, and the changes held while a grant is invalid.
 */
export class WorldChanges {
  private readonly pools = new Map<string, IdPool>();
  private readonly sent = new Map<string, IdPool>();
  private readonly tracking = new Map<string, TrackingState>();
  private readonly notetakers = new Map<string, NylasObject>();
  private readonly held = new Map<string, WorldChange[]>();
  /** grant → its last successful sync (= when it expired), the start of the §7 72-hour window. */
  private readonly expiredAt = new Map<string, number>();

  constructor(
    readonly world: World,
    private readonly rng: Random,
    private readonly bodySizes: BodySizeDistribution,
  ) {
    for (const g of world.grantIds) this.indexGrant(g);
  }

  private indexGrant(grantId: string): void {
    for (const kind of ['messages', 'events', 'calendars', 'contacts', 'folders'] as const) {
      const pool = this.pool(grantId, kind);
      for (const id of this.world.liveIds(grantId, kind)) pool.add(id);
    }
    const sent = this.sentPool(grantId);
    for (const m of this.world.listObjects(grantId, 'messages', { withBodies: false }))
      if ((m.folders as string[] | undefined)?.includes('SENT')) sent.add(String(m.id));
  }

  private pool(grantId: string, kind: ObjectKind): IdPool {
    const key = `${grantId}\u0000${kind}`;
    let p = this.pools.get(key);
    if (!p) {
      p = new IdPool();
      this.pools.set(key, p);
    }
    return p;
  }

  private sentPool(grantId: string): IdPool {
    let p = this.sent.get(grantId);
    if (!p) {
      p = new IdPool();
      this.sent.set(grantId, p);
    }
    return p;
  }

  /** A live object's stored state, picking again if the pool is stale (the world was changed directly). */
  private pickLive(
    grantId: string,
    kind: ObjectKind,
    filter?: (o: NylasObject) => boolean,
  ): NylasObject | undefined {
    const pool = this.pool(grantId, kind);
    for (let tries = 0; tries < 8 && pool.size > 0; tries++) {
      const id = pool.pick(this.rng) as string;
      const data = this.world.getRecord(grantId, kind, id)?.data;
      if (data === undefined) {
        pool.remove(id);
        continue;
      }
      if (!filter || filter(data)) return data;
    }
    return undefined;
  }

  private grant(grantId: string): Readonly<GrantRecord> {
    const g = this.world.peekGrant(grantId);
    if (!g) throw new RangeError(`unknown grant ${grantId}`);
    return g;
  }

  isValid(grantId: string): boolean {
    return this.world.peekGrant(grantId)?.grant_status === 'valid';
  }

  invalidGrants(): string[] {
    return this.world.grantIds.filter((g) => !this.isValid(g));
  }

  /** The changes held for an invalid grant so far, oldest first (none once it re-authenticated). */
  heldFor(grantId: string): readonly WorldChange[] {
    return [...(this.held.get(grantId) ?? [])];
  }

  /**
   * Applies `trigger` to `grantId`. Returns the changes to notify now (several for a re-auth with
   * backfill, none when the grant is invalid and the change is held).
   */
  apply(trigger: GeneratedTrigger, grantId: string): WorldChange[] {
    const change = this.produce(trigger, grantId);
    if (!change) return [];
    if (trigger === 'grant.updated' && change.object?.reauthentication_flag === true) {
      return [change, ...this.backfill(grantId)];
    }
    // §7: an invalid grant gets no object notifications, except message.opened (and grant.* itself).
    if (!this.isValid(grantId) && !change.type.startsWith('grant.') && change.type !== 'message.opened') {
      const list = this.held.get(grantId) ?? [];
      list.push(change);
      this.held.set(grantId, list);
      return [];
    }
    return [change];
  }

  /** §7 72-hour rule: backfill the current state of what changed while invalid, or nothing. */
  private backfill(grantId: string): WorldChange[] {
    const held = this.held.get(grantId) ?? [];
    this.held.delete(grantId);
    const since = this.expiredAt.get(grantId);
    this.expiredAt.delete(grantId);
    if (since === undefined || this.world.now() - since >= SEVENTY_TWO_HOURS) return [];
    const seen = new Set<string>();
    const out: WorldChange[] = [];
    for (let i = held.length - 1; i >= 0; i--) {
      const c = held[i] as WorldChange;
      if (!c.ref) {
        out.push({ ...c, backfill: true, sync: 'incremental' });
        continue;
      }
      const key = `${c.ref.kind}\u0000${c.ref.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rec = this.world.getRecord(grantId, c.ref.kind, c.ref.id);
      if (rec?.data === undefined) {
        out.push({
          ...c,
          type: c.type.replace(/\.(created|updated)$/, '.deleted'),
          backfill: true,
          sync: 'incremental',
        });
      } else {
        const current = cloneJson(rec.data);
        out.push({
          ...c,
          type: c.type.replace(/\.deleted$/, '.updated'),
          object: c.type.startsWith('folder.') ? folderNotification(current) : current,
          lazyBody: rec.lazyBody,
          version: versionOf(current),
          backfill: true,
          sync: 'incremental',
        });
      }
    }
    return out.reverse();
  }

  private produce(trigger: GeneratedTrigger, grantId: string): WorldChange | undefined {
    switch (trigger) {
      case 'message.created':
        return this.messageCreated(grantId);
      case 'message.updated':
        return this.messageUpdated(grantId) ?? this.messageCreated(grantId);
      case 'message.deleted':
        return this.messageDeleted(grantId) ?? this.messageCreated(grantId);
      case 'message.send_success':
        return this.sendSuccess(grantId);
      case 'message.send_failed':
        return this.sendFailed(grantId);
      case 'message.bounce_detected':
        return this.bounce(grantId);
      case 'message.opened':
      case 'message.link_clicked':
      case 'thread.replied':
        return this.tracked(trigger, grantId);
      case 'event.created':
        return this.eventCreated(grantId);
      case 'event.updated':
        return this.eventUpdated(grantId) ?? this.eventCreated(grantId);
      case 'event.deleted':
        return this.eventDeleted(grantId) ?? this.eventCreated(grantId);
      case 'calendar.created':
      case 'calendar.updated':
      case 'calendar.deleted':
        return this.calendar(trigger, grantId);
      case 'contact.updated':
      case 'contact.deleted':
        return this.contact(trigger, grantId);
      case 'folder.created':
      case 'folder.updated':
      case 'folder.deleted':
        return this.folder(trigger, grantId);
      case 'grant.created':
        return this.grantCreated();
      case 'grant.expired':
        return this.grantExpired(grantId);
      case 'grant.updated':
        return this.grantUpdated(grantId);
      case 'grant.deleted':
        return this.grantDeleted(grantId);
      default:
        return this.notetaker(trigger, grantId);
    }
  }

  // ---- messages ---------------------------------------------------------------------------------

  messageCreated(grantId: string, options: { bodySize?: number; outgoing?: boolean } = {}): WorldChange {
    const grant = this.grant(grantId);
    const replyTo = this.rng.chance(0.3) ? this.pickLive(grantId, 'messages') : undefined;
    const outgoing = options.outgoing ?? this.rng.chance(0.2);
    const draft = makeMessage(this.rng, grant, {
      date: this.world.now(),
      bodySize: options.bodySize ?? sampleBodySize(this.rng, this.bodySizes),
      threadId: replyTo ? String(replyTo.thread_id) : undefined,
      subject: replyTo ? `Re: ${String(replyTo.subject ?? '')}` : undefined,
      outgoing,
    });
    this.world.putMessage(grantId, draft.data, draft.body);
    const id = String(draft.data.id);
    this.pool(grantId, 'messages').add(id);
    if (outgoing) this.sentPool(grantId).add(id);
    return {
      type: 'message.created',
      grantId,
      object: draft.data,
      lazyBody: draft.body,
      ref: { kind: 'messages', id },
    };
  }

  private messageUpdated(grantId: string): WorldChange | undefined {
    const current = this.pickLive(grantId, 'messages');
    if (!current) return undefined;
    const next = cloneJson(current);
    const what = this.rng.int(0, 3);
    if (what === 0) {
      next.unread = !next.unread;
      const folders = ((next.folders as string[]) ?? []).filter((f) => f !== 'UNREAD');
      next.folders = next.unread ? [...folders, 'UNREAD'] : folders;
    } else if (what === 1) next.starred = !next.starred;
    else if (what === 2) {
      const label = this.pickLive(grantId, 'folders', (f) => f.system_folder === false);
      if (label) next.folders = [...new Set([...((next.folders as string[]) ?? []), String(label.id)])];
      else next.unread = false;
    } else next.folders = ((next.folders as string[]) ?? []).filter((f) => f !== 'INBOX').concat('TRASH');
    this.world.putMessage(grantId, next, undefined, { adopt: true });
    const rec = this.world.getRecord(grantId, 'messages', String(next.id));
    // §5: messages have no updated_at; `date` never changes on updates.
    return {
      type: 'message.updated',
      grantId,
      object: next,
      lazyBody: rec?.lazyBody,
      ref: { kind: 'messages', id: String(next.id) },
    };
  }

  private messageDeleted(grantId: string): WorldChange | undefined {
    const current = this.pickLive(grantId, 'messages');
    if (!current) return undefined;
    const id = String(current.id);
    this.world.removeMessage(grantId, id);
    this.pool(grantId, 'messages').remove(id);
    this.sentPool(grantId).remove(id);
    // §3.2 message.deleted: {grant_id, id, object}; §9 #16: `id` is the message id.
    return {
      type: 'message.deleted',
      grantId,
      object: { grant_id: grantId, id, object: 'message' },
      ref: { kind: 'messages', id },
    };
  }

  /** §3.2 send outcome: `data.grant_id` beside a message object with schedule_id and send_at. */
  private sendSuccess(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    const draft = makeMessage(this.rng, grant, { date: this.world.now(), bodySize: 600, outgoing: true });
    const scheduleId = String(this.rng.int(1000, 99_999));
    const data: NylasObject = {
      ...draft.data,
      schedule_id: scheduleId,
      send_at: this.world.now() - this.rng.int(0, 30),
    };
    this.world.putMessage(grantId, data, draft.body);
    const id = String(data.id);
    this.pool(grantId, 'messages').add(id);
    this.sentPool(grantId).add(id);
    const object = sendObject(data);
    return {
      type: 'message.send_success',
      grantId,
      object,
      dataGrantId: true,
      ref: { kind: 'messages', id },
    };
  }

  /** §3.2 / §9 #11: send_failed carries `data.reason` and `data.error`; the object may be null. */
  private sendFailed(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    const draft = makeMessage(this.rng, grant, { date: this.world.now(), bodySize: 400, outgoing: true });
    const data = {
      ...draft.data,
      schedule_id: String(this.rng.int(1000, 99_999)),
      send_at: this.world.now() - 10,
    };
    return {
      type: 'message.send_failed',
      grantId,
      object: this.rng.chance(0.1) ? null : sendObject(data),
      dataGrantId: true,
      dataExtras: {
        reason: 'Provider rejected the message',
        error: {
          type: 'api.provider_error',
          message: 'Mailbox unavailable',
          status_code: 550,
          provider_error: { code: '550', message: '5.1.1 user unknown' },
        },
      },
    };
  }

  /** §3.2 message.bounce_detected (RFC 2822 date strings, `code` as a string). */
  private bounce(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    const sentId = this.sentPool(grantId).pick(this.rng) ?? messageId(this.rng);
    const to = person(this.rng).email;
    const now = this.world.now();
    return {
      type: 'message.bounce_detected',
      grantId,
      dataGrantId: true,
      object: {
        bounce_reason: 'The email account that you tried to reach does not exist.',
        bounce_date: rfc2822(now),
        bounced_addresses: to,
        type: 'mailbox_unavailable',
        code: '550',
        grant_id: grantId,
        origin: {
          to: [to],
          from: grant.email,
          cc: [],
          bcc: [],
          subject: sentence(this.rng.nextUint32(), 3),
          mime_id: `<${this.rng.hex(16)}@mail.example.com>`,
          id: sentId,
          original_send_at: rfc2822(now - this.rng.int(60, 3600)),
        },
        message_id: sentId,
      },
    };
  }

  /** §3.2 tracking: counters only go up (§5), so they are the natural versions. */
  private tracked(
    trigger: 'message.opened' | 'message.link_clicked' | 'thread.replied',
    grantId: string,
  ): WorldChange | undefined {
    const sentId = this.sentPool(grantId).pick(this.rng);
    if (!sentId) return this.messageCreated(grantId, { outgoing: true });
    const msg = this.world.getRecord(grantId, 'messages', sentId)?.data;
    const key = `${grantId}\u0000${sentId}`;
    let t = this.tracking.get(key);
    if (!t) {
      t = {
        opens: 0,
        clicks: [0, 0],
        replies: 0,
        recents: [],
        clickRecents: [],
        label: this.rng.pick(['welcome-email', 'onboarding-followup', 'invoice']),
      };
      this.tracking.set(key, t);
    }
    const now = this.world.now();
    const ip = `203.0.113.${this.rng.int(1, 254)}`;
    const base = {
      grant_id: grantId,
      message_id: sentId,
      label: t.label,
      sender_app_id: this.world.applicationId,
      timestamp: now,
    };
    if (trigger === 'message.opened') {
      t.recents.push({ opened_id: t.opens, ip, timestamp: now, user_agent: 'Mozilla/5.0' });
      t.opens += 1;
      return {
        type: trigger,
        grantId,
        dataGrantId: true,
        object: {
          object: 'message',
          ...base,
          message_data: { count: t.opens, timestamp: now },
          recents: t.recents.slice(-10),
        },
        version: { count: t.opens },
      };
    }
    if (trigger === 'message.link_clicked') {
      const idx = this.rng.int(0, t.clicks.length - 1);
      t.clicks[idx] = (t.clicks[idx] ?? 0) + 1;
      const total = t.clicks.reduce((a, b) => a + b, 0);
      t.clickRecents.push({
        click_id: total - 1,
        ip,
        link_index: String(idx),
        timestamp: now,
        user_agent: 'Mozilla/5.0',
      });
      return {
        type: trigger,
        grantId,
        dataGrantId: true,
        object: {
          object: 'message',
          ...base,
          link_data: t.clicks.map((count, i) => ({ count, url: `https://www.example.com/${i}` })),
          recents: t.clickRecents.slice(-10),
        },
        version: { count: total },
      };
    }
    t.replies += 1;
    const threadId = String(msg?.thread_id ?? sentId);
    return {
      type: trigger,
      grantId,
      dataGrantId: true,
      object: {
        object: 'thread',
        grant_id: grantId,
        message_id: messageId(this.rng),
        root_message_id: threadId,
        reply_to_message_id: sentId,
        thread_id: threadId,
        label: t.label,
        reply_data: { count: t.replies },
        from_self: false,
        sender_app_id: this.world.applicationId,
        timestamp: now,
      },
      version: { count: t.replies },
    };
  }

  // ---- events and calendars ---------------------------------------------------------------------

  private eventCreated(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    const cal = this.pickLive(grantId, 'calendars');
    const calendarId = cal ? String(cal.id) : grant.email;
    const ev = makeEvent(this.rng, grant, calendarId, this.world.now());
    this.world.adoptObject(grantId, 'events', ev);
    this.pool(grantId, 'events').add(String(ev.id));
    return {
      type: 'event.created',
      grantId,
      object: ev,
      ref: { kind: 'events', id: String(ev.id) },
      version: versionOf(ev),
    };
  }

  /** §5: `updated_at` never goes back; `sequence` is incremented on every update. */
  private eventUpdated(grantId: string): WorldChange | undefined {
    const current = this.pickLive(grantId, 'events');
    if (!current) return undefined;
    const next = cloneJson(current);
    const what = this.rng.int(0, 3);
    if (what === 0) next.title = sentence(this.rng.nextUint32(), this.rng.int(1, 4));
    else if (what === 1) {
      const w = next.when as Record<string, number>;
      const shift = this.rng.pick([-3600, 1800, 3600, 86_400]);
      next.when = { ...w, start_time: (w.start_time ?? 0) + shift, end_time: (w.end_time ?? 0) + shift };
    } else if (what === 2) next.location = `Room ${this.rng.int(100, 499)}`;
    else next.status = this.rng.chance(0.3) ? 'cancelled' : 'tentative';
    next.updated_at = Math.max(this.world.now(), Number(current.updated_at ?? 0));
    next.sequence = Number(current.sequence ?? 0) + 1;
    this.world.adoptObject(grantId, 'events', next);
    return {
      type: 'event.updated',
      grantId,
      object: next,
      ref: { kind: 'events', id: String(next.id) },
      version: versionOf(next),
    };
  }

  private eventDeleted(grantId: string): WorldChange | undefined {
    const current = this.pickLive(grantId, 'events');
    if (!current) return undefined;
    const id = String(current.id);
    this.world.deleteObject(grantId, 'events', id);
    this.pool(grantId, 'events').remove(id);
    // §3.2 event.deleted: no timestamps.
    return {
      type: 'event.deleted',
      grantId,
      object: { id, grant_id: grantId, calendar_id: current.calendar_id, object: 'event' },
      ref: { kind: 'events', id },
    };
  }

  private calendar(
    trigger: 'calendar.created' | 'calendar.updated' | 'calendar.deleted',
    grantId: string,
  ): WorldChange {
    const grant = this.grant(grantId);
    if (trigger === 'calendar.deleted') {
      // Only secondary calendars without events are deleted, so no event is left orphaned.
      const cal = this.pickLive(grantId, 'calendars', (c) => c.is_primary !== true);
      const hasEvents = cal
        ? this.world
            .listObjects(grantId, 'events', { withBodies: false })
            .some((e) => e.calendar_id === cal.id)
        : true;
      if (cal && !hasEvents) {
        const id = String(cal.id);
        this.world.deleteObject(grantId, 'calendars', id);
        this.pool(grantId, 'calendars').remove(id);
        const { description: _d, location: _l, metadata: _m, ...rest } = cal;
        return { type: trigger, grantId, object: cloneJson(rest), ref: { kind: 'calendars', id } };
      }
      return this.calendar('calendar.updated', grantId);
    }
    if (trigger === 'calendar.updated') {
      const cal = this.pickLive(grantId, 'calendars');
      if (cal) {
        // §3.1: name, description, location or timezone changes.
        const next: NylasObject = {
          ...cloneJson(cal),
          description: sentence(this.rng.nextUint32(), 5),
        };
        this.world.adoptObject(grantId, 'calendars', next);
        return { type: trigger, grantId, object: next, ref: { kind: 'calendars', id: String(next.id) } };
      }
    }
    const cal = makeCalendar(this.rng, grant, false);
    this.world.adoptObject(grantId, 'calendars', cal);
    this.pool(grantId, 'calendars').add(String(cal.id));
    return { type: 'calendar.created', grantId, object: cal, ref: { kind: 'calendars', id: String(cal.id) } };
  }

  // ---- contacts and folders ---------------------------------------------------------------------

  /** §3.1 / §9 #6: creation is reported as contact.updated; contact.created is never emitted. */
  private contact(trigger: 'contact.updated' | 'contact.deleted', grantId: string): WorldChange {
    if (trigger === 'contact.deleted') {
      const c = this.pickLive(grantId, 'contacts');
      if (c) {
        const id = String(c.id);
        this.world.deleteObject(grantId, 'contacts', id);
        this.pool(grantId, 'contacts').remove(id);
        return {
          type: trigger,
          grantId,
          object: { grant_id: grantId, id, object: 'contact' },
          ref: { kind: 'contacts', id },
        };
      }
    }
    const existing = this.rng.chance(0.6) ? this.pickLive(grantId, 'contacts') : undefined;
    const next = existing
      ? {
          ...cloneJson(existing),
          job_title: this.rng.pick(['Staff Engineer', 'VP Sales', 'Designer', 'CTO']),
        }
      : makeContact(this.rng, grantId);
    this.world.adoptObject(grantId, 'contacts', next);
    this.pool(grantId, 'contacts').add(String(next.id));
    return { type: 'contact.updated', grantId, object: next, ref: { kind: 'contacts', id: String(next.id) } };
  }

  private folder(
    trigger: 'folder.created' | 'folder.updated' | 'folder.deleted',
    grantId: string,
  ): WorldChange {
    if (trigger !== 'folder.created') {
      const f = this.pickLive(grantId, 'folders', (x) => x.system_folder === false);
      if (f) {
        const id = String(f.id);
        if (trigger === 'folder.deleted') {
          this.world.deleteObject(grantId, 'folders', id);
          this.pool(grantId, 'folders').remove(id);
          return { type: trigger, grantId, object: folderNotification(f), ref: { kind: 'folders', id } };
        }
        const next = {
          ...cloneJson(f),
          name: `${String(f.name).split('/')[0]}/${this.rng.int(2019, 2026)}`,
        };
        this.world.adoptObject(grantId, 'folders', next);
        return { type: trigger, grantId, object: folderNotification(next), ref: { kind: 'folders', id } };
      }
    }
    const label = makeLabel(this.rng, grantId);
    this.world.adoptObject(grantId, 'folders', label);
    this.pool(grantId, 'folders').add(String(label.id));
    return {
      type: 'folder.created',
      grantId,
      object: folderNotification(label),
      ref: { kind: 'folders', id: String(label.id) },
    };
  }

  // ---- grants -----------------------------------------------------------------------------------

  private grantCreated(): WorldChange {
    const grant = makeGrant(this.rng, this.world.now());
    grant.created_at = this.world.now();
    grant.updated_at = this.world.now();
    this.world.addGrant(grant);
    for (const f of systemFolders(grant.id)) this.world.upsertObject(grant.id, 'folders', f);
    this.world.upsertObject(grant.id, 'calendars', makeCalendar(this.rng, grant, true));
    this.indexGrant(grant.id);
    const object: NylasObject = {
      code: 25012,
      grant_id: grant.id,
      integration_id: grant.integration_id,
      login_id: this.rng.alnum(12),
      provider: grant.provider,
      email: grant.email,
      name: grant.name,
      scope: [...grant.scope],
    };
    return { type: 'grant.created', grantId: grant.id, object };
  }

  /** §3.2 grant.expired (25009) with `grant_updated_at`; the API answers 401 from now on (§7). */
  grantExpired(grantId: string): WorldChange | undefined {
    const grant = this.grant(grantId);
    if (grant.grant_status !== 'valid') return this.grantUpdated(grantId);
    // §7: `grant_updated_at` is the last successful sync, not Grant `updated_at` (the last
    // authentication, possibly months ago). A grant valid until now was syncing until now. The same
    // instant starts the 72-hour clock of the backfill rule, so the payload and the rule agree.
    const lastSync = this.world.now();
    this.world.setGrantStatus(grantId, 'invalid');
    this.expiredAt.set(grantId, lastSync);
    return {
      type: 'grant.expired',
      grantId,
      object: {
        code: 25009,
        grant_id: grantId,
        integration_id: grant.integration_id,
        provider: grant.provider,
        email: grant.email,
        grant_updated_at: lastSync,
      },
    };
  }

  /** grant.updated: 25027 + reauthentication_flag for a re-authentication of an invalid grant (the same
   * grant id, objects and tracking survive, §7), else 25014 for an ordinary update. */
  grantUpdated(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    const reauth = grant.grant_status !== 'valid';
    if (reauth) this.world.setGrantStatus(grantId, 'valid');
    return {
      type: 'grant.updated',
      grantId,
      object: {
        code: reauth ? 25027 : 25014,
        grant_id: grantId,
        integration_id: grant.integration_id,
        provider: grant.provider,
        email: grant.email,
        reauthentication_flag: reauth,
      },
    };
  }

  private grantDeleted(grantId: string): WorldChange {
    const grant = this.grant(grantId);
    return {
      type: 'grant.deleted',
      grantId,
      object: {
        code: 25013,
        grant_id: grantId,
        integration_id: grant.integration_id,
        provider: grant.provider,
        email: grant.email,
      },
    };
  }

  // ---- notetaker (a family the pipeline does not model) -----------------------------------------

  private notetaker(trigger: GeneratedTrigger, grantId: string): WorldChange {
    const ids = [...this.notetakers.keys()].filter((k) => k.startsWith(`${grantId}\u0000`));
    const key = ids.length && trigger !== 'notetaker.created' ? this.rng.pick(ids) : undefined;
    if (!key) {
      const ev = this.pickLive(grantId, 'events');
      const id = this.rng.alnum(20).toLowerCase();
      const nt: NylasObject = {
        id,
        grant_id: grantId,
        object: 'notetaker',
        meeting_settings: { video_recording: true, audio_recording: true, transcription: true },
        meeting_provider: 'Google Meet',
        meeting_link: `https://meet.google.com/${this.rng.alnum(3).toLowerCase()}-${this.rng.alnum(4).toLowerCase()}`,
        join_time: this.world.now() + 600,
        event: { ical_uid: ev?.ical_uid ?? null, event_id: ev?.id ?? null, master_event_id: null },
        status: 'scheduled',
        state: 'scheduled',
      };
      this.notetakers.set(`${grantId}\u0000${id}`, nt);
      return { type: 'notetaker.created', grantId, object: cloneJson(nt) };
    }
    const nt = this.notetakers.get(key) as NylasObject;
    if (trigger === 'notetaker.deleted') {
      this.notetakers.delete(key);
      return {
        type: trigger,
        grantId,
        object: { id: nt.id, grant_id: grantId, object: 'notetaker', status: 'deleted', state: 'deleted' },
      };
    }
    if (trigger === 'notetaker.meeting_state') {
      nt.state = 'attending';
      return {
        type: trigger,
        grantId,
        object: {
          ...cloneJson(nt),
          meeting_state: this.rng.pick(['recording_active', 'waiting_for_entry', 'entry_denied']),
        },
      };
    }
    if (trigger === 'notetaker.media') {
      nt.status = 'available';
      nt.state = 'media_available';
      return {
        type: trigger,
        grantId,
        object: {
          ...cloneJson(nt),
          media: {
            recording: `https://storage.example.com/${String(nt.id)}/recording.mp4`,
            recording_duration: String(this.rng.int(300, 3600)),
            recording_file_format: 'mp4',
            thumbnail: `https://storage.example.com/${String(nt.id)}/thumb.png`,
            transcript: `https://storage.example.com/${String(nt.id)}/transcript.json`,
            summary: `https://storage.example.com/${String(nt.id)}/summary.json`,
            action_items: `https://storage.example.com/${String(nt.id)}/action_items.json`,
          },
        },
      };
    }
    nt.status = this.rng.pick(['connecting', 'attending', 'processing']);
    return { type: 'notetaker.updated', grantId, object: cloneJson(nt) };
  }
}

/** §3.2: folder notifications carry only five fields. */
function folderNotification(f: NylasObject): NylasObject {
  return { grant_id: f.grant_id, id: f.id, name: f.name, object: 'folder', system_folder: f.system_folder };
}

/** §3.2: the send-outcome object (body usually omitted; use_draft omitted when false). */
function sendObject(m: NylasObject): NylasObject {
  return {
    object: 'message',
    grant_id: m.grant_id,
    id: m.id,
    schedule_id: m.schedule_id,
    send_at: m.send_at,
    subject: m.subject,
    snippet: m.snippet,
    from: m.from,
    to: m.to,
    cc: m.cc,
    bcc: m.bcc,
    reply_to: m.reply_to,
    attachments: m.attachments,
  };
}

function versionOf(o: NylasObject): WorldChange['version'] {
  if (o.object !== 'event') return undefined;
  return { updated_at: Number(o.updated_at), sequence: Number(o.sequence ?? 0) };
}

function rfc2822(seconds: number): string {
  return new Date(seconds * 1000).toUTCString().replace('GMT', '+0000');
}
