/**
 * normalize: one decoded (and, for *.truncated, expanded) notification → one provider-neutral domain event
 * (ARCHITECTURE.md, "Processors" step 5). Pure: no I/O, no clock, no randomness, so a replay re-emits
 * byte-identical events (the event id is derived from the notification id).
 *
 * Routing is by trigger family (processors/triggers.ts strips suffixes first), so
 * `message.created.cleaned.transformed.truncated` is a message like `message.created`. Triggers with no
 * model go to nylas.unmodeled with the object as JSON text, so nothing is lost.
 *
 * Nylas omits fields freely (field customization, metadata-only scopes, provider differences, `null`
 * arrays on contacts), so every read here is lenient: a missing or oddly typed optional field becomes null,
 * never an exception. Only a payload that cannot describe the change at all (no object on a create or
 * update, no object id) throws BadInputError(NORMALIZE_FAILED), which the runtime dead-letters.
 */
import { hash } from 'node:crypto';
import type { TopicsConfig } from '../../lib/config';
import { BadInputError, ErrorCodes } from '../../lib/errors';
import type {
  Attachment,
  Bounce,
  Calendar,
  CalendarEvent,
  ClickRecent,
  Conferencing,
  Contact,
  DomainEventValues,
  EmailHeader,
  EmailParticipant,
  EventParticipant,
  EventWhen,
  Folder,
  GrantStatus,
  LegacyTrackingDelta,
  LinkClickCount,
  Message,
  OpenRecent,
  Person,
  Reminders,
  SendFailure,
  SentMessage,
} from '../../schemas/generated/types';
import { DOMAIN_SCHEMA_TOPICS, type DomainSchemaName } from '../../schemas/index';
import type { DomainEvent, Notification, TriggerFamily } from '../types';

type Obj = Record<string, unknown>;

/**
 * Header names carried on every domain event record: the event type (route or filter without decoding
 * Avro) and where the event came from (the Nylas notification id that logs, the DLQ and the raw topic
 * share, and the raw record). Consumers must not need them. The event id, Nylas type and receipt time are
 * Avro fields and are not repeated here: kafkajs encodes each header into its own zeroed 512-byte buffer
 * (test/bench/stages.ts, single noisy runs: kafkajs encoding 32.2 → 27.2 µs and normalize 16.4 → 14.2 µs
 * per event without them).
 */
export const DOMAIN_EVENT_HEADERS = {
  eventType: 'event-type',
  notificationId: 'nylas-notification-id',
  sourceTopic: 'source-topic',
  sourcePartition: 'source-partition',
  sourceOffset: 'source-offset',
} as const;

const SCHEMA_BY_FAMILY: Record<TriggerFamily, DomainSchemaName> = {
  message: 'messages',
  folder: 'folders',
  tracking: 'tracking',
  delivery: 'delivery',
  event: 'events',
  calendar: 'calendars',
  contact: 'contacts',
  grant: 'grants',
  unmodeled: 'unmodeled',
};

// ------------------------------------------------------------------------------------------------
// Lenient readers: wrong type or absent → null.
// ------------------------------------------------------------------------------------------------

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function obj(v: unknown): Obj | null {
  return isObj(v) ? v : null;
}

/** Strings as-is; finite numbers as decimal text (some ids arrive as numbers). */
function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

function bool(v: unknown): boolean | null {
  return typeof v === 'boolean' ? v : null;
}

/** Integers, also from numeric strings ("0" for link_index); null when not a safe integer. */
function long(v: unknown): number | null {
  const n = typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  const t = Math.trunc(n);
  return Number.isSafeInteger(t) ? t : null;
}

/** Nylas timestamps are Unix seconds (numbers, or strings on scheduler metadata) → epoch ms. */
function secondsToMs(v: unknown): number | null {
  const s = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : v;
  if (typeof s !== 'number' || !Number.isFinite(s) || s < 0) return null;
  const ms = Math.round(s * 1000);
  return Number.isSafeInteger(ms) ? ms : null;
}

/** An RFC 2822 / ISO date text → epoch ms, null when unparseable. */
function dateTextToMs(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : null;
}

function strArray(v: unknown): string[] | null {
  if (!Array.isArray(v)) return null;
  return v.map(str).filter((s): s is string => s !== null);
}

function objArray<T>(v: unknown, map: (o: Obj) => T | null): T[] | null {
  if (!Array.isArray(v)) return null;
  return v.map((e) => (isObj(e) ? map(e) : null)).filter((e): e is T => e !== null);
}

function json(v: unknown): string | null {
  return v === undefined || v === null ? null : JSON.stringify(v);
}

/** Key-value metadata; non-string values (numbers, nested objects) are kept as JSON text. */
function metadata(v: unknown): Record<string, string> | null {
  if (!isObj(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined || val === null) continue;
    out[k] = typeof val === 'string' ? val : JSON.stringify(val);
  }
  return out;
}

/** `value` upper-cased when it is one of `symbols`, else UNKNOWN; null when absent. */
function enumOf<T extends string>(v: unknown, symbols: readonly T[]): T | 'UNKNOWN' | null {
  if (typeof v !== 'string' || v === '') return null;
  const u = v.toUpperCase().replace(/[\s-]+/g, '_') as T;
  return symbols.includes(u) ? u : 'UNKNOWN';
}

// ------------------------------------------------------------------------------------------------
// Shared pieces of the typed objects.
// ------------------------------------------------------------------------------------------------

/** Entries without an address are dropped (the schema requires one); a bare string is an address. */
function participants(v: unknown): EmailParticipant[] | null {
  if (!Array.isArray(v)) return null;
  const out: EmailParticipant[] = [];
  for (const e of v) {
    if (typeof e === 'string') out.push({ name: null, email: e });
    else if (isObj(e) && typeof e.email === 'string') out.push({ name: str(e.name), email: e.email });
  }
  return out;
}

function attachments(v: unknown): Attachment[] | null {
  return objArray(v, (a) => {
    const id = str(a.id);
    if (id === null) return null;
    return {
      id,
      filename: str(a.filename),
      content_type: str(a.content_type),
      size: long(a.size),
      is_inline: bool(a.is_inline),
      content_id: str(a.content_id),
      content_disposition: str(a.content_disposition),
    };
  });
}

function headers(v: unknown): EmailHeader[] | null {
  return objArray(v, (h) => {
    const name = str(h.name);
    return name === null ? null : { name, value: str(h.value) ?? '' };
  });
}

function person(v: unknown): Person | null {
  const o = obj(v);
  return o ? { email: str(o.email), name: str(o.name) } : null;
}

/** A .legacy payload is the v2 deltas format (contract §3.2 tracking). */
function isLegacy(n: Notification): boolean {
  return n.suffixes.includes('legacy');
}

function fail(n: Notification, message: string): BadInputError {
  return new BadInputError(ErrorCodes.NORMALIZE_FAILED, `${n.envelope.type} ${n.envelope.id}: ${message}`, {
    details: {
      notificationId: n.envelope.id,
      type: n.envelope.type,
      sourceTopic: n.record.topic,
      sourcePartition: n.record.partition,
      sourceOffset: n.record.offset,
    },
  });
}

/** The object of a create/update; throws when there is none (nothing to publish). */
function requireObject(n: Notification): Obj {
  const o = obj(n.envelope.data.object);
  if (!o) throw fail(n, `data.object is ${n.envelope.data.object === null ? 'null' : 'missing'}`);
  return o;
}

type Action3 = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';

function crudAction(n: Notification): Action3 {
  if (n.goneOnExpand) return 'DELETED';
  switch (n.action) {
    case 'created':
      return 'CREATED';
    case 'updated':
      return 'UPDATED';
    case 'deleted':
      return 'DELETED';
    default:
      return 'UNKNOWN';
  }
}

// ------------------------------------------------------------------------------------------------
// Families.
// ------------------------------------------------------------------------------------------------

function toMessage(o: Obj, fallbackId: string): Message {
  return {
    id: str(o.id) ?? fallbackId,
    thread_id: str(o.thread_id),
    subject: str(o.subject),
    from: participants(o.from),
    to: participants(o.to),
    cc: participants(o.cc),
    bcc: participants(o.bcc),
    reply_to: participants(o.reply_to),
    date: secondsToMs(o.date),
    body: str(o.body),
    snippet: str(o.snippet),
    starred: bool(o.starred),
    unread: bool(o.unread),
    folders: strArray(o.folders),
    attachments: attachments(o.attachments),
    headers: headers(o.headers) ?? headers(o.basic_headers),
    metadata: metadata(o.metadata),
    cleaning_status: enumOf(o.cleaning_status, ['SUCCESS', 'FAILED'] as const),
  };
}

type Specific<K extends DomainSchemaName> = Omit<DomainEventValues[K], keyof Common>;

function messageFields(n: Notification): Specific<'messages'> {
  const action = crudAction(n);
  const truncated = n.suffixes.includes('truncated');
  const flags = {
    cleaned: n.suffixes.includes('cleaned'),
    metadata_only: n.suffixes.includes('metadata'),
    transformed: n.suffixes.includes('transformed'),
  };
  if (n.goneOnExpand) {
    return { action, body_truncated: false, ...flags, message: null, body_omitted_bytes: null };
  }
  const o = action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
  const message = o ? toMessage(o, n.object.objectId) : null;
  return {
    action,
    body_truncated: truncated && !n.expanded && message?.body == null,
    ...flags,
    message,
    body_omitted_bytes: null,
  };
}

/**
 * The event without what can be left out when it is too large for its topic, or undefined when nothing
 * can. Only a message body can be: a downstream team is better served by the event (every other field,
 * the snippet included) saying the body was left out and how big it was, than by no event and a dead
 * letter; the body stays one Nylas API call away. Everything else of a domain event is small unless the
 * raw notification was, and the raw topic has the same limit.
 */
export function withoutBody(event: DomainEvent): DomainEvent | undefined {
  if (event.schema !== 'messages') return undefined;
  const message = event.value.message as Message | null;
  if (message?.body == null) return undefined;
  return {
    ...event,
    value: {
      ...event.value,
      message: { ...message, body: null },
      body_omitted_bytes: Buffer.byteLength(message.body),
    },
  };
}

function folderFields(n: Notification): Specific<'folders'> {
  const action = crudAction(n);
  const o = action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
  const folder: Folder | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        name: str(o.name),
        system_folder: bool(o.system_folder),
        parent_id: str(o.parent_id),
        background_color: str(o.background_color),
        text_color: str(o.text_color),
        child_count: long(o.child_count),
        unread_count: long(o.unread_count),
        total_count: long(o.total_count),
        attributes: strArray(o.attributes),
      }
    : null;
  return { action, folder };
}

const TRACKING_ACTIONS: Record<string, DomainEventValues['tracking']['action']> = {
  'message.opened': 'OPENED',
  'message.link_clicked': 'LINK_CLICKED',
  'thread.replied': 'REPLIED',
};

function trackingFields(n: Notification): Specific<'tracking'> {
  const o = requireObject(n);
  const base: Specific<'tracking'> = {
    action: TRACKING_ACTIONS[n.baseType] ?? 'UNKNOWN',
    legacy: isLegacy(n),
    message_id: null,
    thread_id: null,
    label: null,
    sender_app_id: null,
    tracked_at: null,
    open_count: null,
    last_opened_at: null,
    open_recents: null,
    link_clicks: null,
    click_recents: null,
    reply_message_id: null,
    root_message_id: null,
    reply_count: null,
    from_self: null,
    legacy_deltas: null,
  };
  if (base.legacy || Array.isArray(o.deltas)) {
    const deltas = objArray(
      o.deltas,
      (d): LegacyTrackingDelta => ({
        date: secondsToMs(d.date),
        object: str(d.object),
        type: str(d.type),
        object_data_json: json(d.object_data),
      }),
    );
    // v2 object_data: {id, metadata: {message_id?, count?, …}}; best effort, the deltas carry the rest.
    const first = obj(obj((o.deltas as unknown[] | undefined)?.[0])?.object_data);
    const meta = obj(first?.metadata);
    return {
      ...base,
      legacy: true,
      message_id: str(meta?.message_id) ?? str(first?.id),
      thread_id: str(meta?.thread_id),
      label: str(meta?.label),
      sender_app_id: str(meta?.sender_app_id),
      open_count: base.action === 'OPENED' ? long(meta?.count) : null,
      reply_count: base.action === 'REPLIED' ? long(meta?.count) : null,
      legacy_deltas: deltas,
    };
  }
  const common = {
    ...base,
    message_id: str(o.message_id),
    label: str(o.label),
    sender_app_id: str(o.sender_app_id),
    tracked_at: secondsToMs(o.timestamp),
  };
  if (base.action === 'REPLIED') {
    // thread.replied: message_id is the reply; the tracked message is the one replied to.
    return {
      ...common,
      message_id: str(o.reply_to_message_id) ?? str(o.root_message_id),
      thread_id: str(o.thread_id),
      reply_message_id: str(o.message_id),
      root_message_id: str(o.root_message_id),
      reply_count: long(obj(o.reply_data)?.count),
      from_self: bool(o.from_self),
    };
  }
  if (base.action === 'LINK_CLICKED') {
    return {
      ...common,
      link_clicks: objArray(o.link_data, (l): LinkClickCount => ({ url: str(l.url), count: long(l.count) })),
      click_recents: objArray(
        o.recents,
        (r): ClickRecent => ({
          click_id: long(r.click_id),
          link_index: long(r.link_index),
          ip: str(r.ip),
          user_agent: str(r.user_agent),
          timestamp: secondsToMs(r.timestamp),
        }),
      ),
    };
  }
  const data = obj(o.message_data);
  return {
    ...common,
    open_count: long(data?.count),
    last_opened_at: secondsToMs(data?.timestamp),
    open_recents: objArray(
      o.recents,
      (r): OpenRecent => ({
        opened_id: long(r.opened_id),
        ip: str(r.ip),
        user_agent: str(r.user_agent),
        timestamp: secondsToMs(r.timestamp),
      }),
    ),
  };
}

const DELIVERY_ACTIONS: Record<string, DomainEventValues['delivery']['action']> = {
  send_success: 'SEND_SUCCEEDED',
  send_failed: 'SEND_FAILED',
  bounce_detected: 'BOUNCED',
  bounced: 'BOUNCED',
  delivered: 'DELIVERED',
  complaint: 'COMPLAINED',
  rejected: 'REJECTED',
};

function toSentMessage(o: Obj): SentMessage | null {
  const id = str(o.id);
  if (id === null) return null;
  return {
    id,
    thread_id: str(o.thread_id),
    subject: str(o.subject),
    from: participants(o.from),
    to: participants(o.to),
    cc: participants(o.cc),
    bcc: participants(o.bcc),
    reply_to: participants(o.reply_to),
    snippet: str(o.snippet),
    schedule_id: str(o.schedule_id),
    send_at: secondsToMs(o.send_at),
    use_draft: bool(o.use_draft),
    attachments: attachments(o.attachments),
  };
}

function addresses(v: unknown): string[] | null {
  if (Array.isArray(v)) return strArray(v);
  if (typeof v !== 'string') return null;
  return v.split(/[,;\s]+/).filter((s) => s !== '');
}

function deliveryFields(n: Notification): Specific<'delivery'> {
  const o = obj(n.envelope.data.object);
  const transactional = n.baseType.startsWith('message.transactional.');
  const action = DELIVERY_ACTIONS[n.action] ?? 'UNKNOWN';
  const out: Specific<'delivery'> = {
    action,
    transactional,
    message: null,
    failure: null,
    bounce: null,
    details_json: null,
  };
  if (n.baseType === 'message.send_success' || n.baseType === 'message.send_failed') {
    out.message = o ? toSentMessage(o) : null;
    if (n.baseType === 'message.send_failed') {
      const error = obj(n.envelope.data.error);
      const failure: SendFailure = {
        reason: str(n.envelope.data.reason),
        error_type: str(error?.type),
        error_message: str(error?.message),
        status_code: long(error?.status_code),
        provider_error_json: json(error?.provider_error),
      };
      out.failure = failure;
    } else if (!o) {
      throw fail(n, 'data.object is missing on a send success');
    }
    return out;
  }
  if (n.baseType === 'message.bounce_detected') {
    if (!o) throw fail(n, 'data.object is missing on a bounce');
    const origin = obj(o.origin);
    const bounce: Bounce = {
      reason: str(o.bounce_reason),
      bounce_type: str(o.type),
      code: str(o.code),
      bounced_addresses: addresses(o.bounced_addresses),
      bounce_date: str(o.bounce_date),
      bounced_at: dateTextToMs(o.bounce_date),
      origin: origin
        ? {
            id: str(origin.id),
            mime_id: str(origin.mime_id),
            subject: str(origin.subject),
            from: str(origin.from),
            to: addresses(origin.to),
            cc: addresses(origin.cc),
            bcc: addresses(origin.bcc),
            original_send_at: str(origin.original_send_at),
          }
        : null,
    };
    return { ...out, bounce };
  }
  // Agent-account and transactional deliverability: no typed model yet beyond the message they refer to.
  const message = obj(o?.message);
  return { ...out, message: message ? toSentMessage(message) : null, details_json: json(o) };
}

function when(v: unknown): EventWhen | null {
  const w = obj(v);
  if (!w) return null;
  const declared = enumOf(w.object, ['TIMESPAN', 'DATESPAN', 'DATE', 'TIME'] as const);
  // Some payloads omit when.object; infer the subtype from the fields present.
  const kind =
    declared ??
    (w.start_time !== undefined
      ? 'TIMESPAN'
      : w.start_date !== undefined
        ? 'DATESPAN'
        : w.date !== undefined
          ? 'DATE'
          : w.time !== undefined
            ? 'TIME'
            : 'UNKNOWN');
  return {
    kind,
    start_time: secondsToMs(w.start_time),
    end_time: secondsToMs(w.end_time),
    start_timezone: str(w.start_timezone),
    end_timezone: str(w.end_timezone),
    start_date: str(w.start_date),
    end_date: str(w.end_date),
    date: str(w.date),
    time: secondsToMs(w.time),
    timezone: str(w.timezone),
  };
}

function conferencing(v: unknown): Conferencing | null {
  const c = obj(v);
  if (!c) return null;
  const d = obj(c.details);
  return {
    provider: str(c.provider),
    url: str(d?.url),
    meeting_code: str(d?.meeting_code),
    password: str(d?.password),
    pin: str(d?.pin),
    phone: strArray(d?.phone),
    details_json: json(c.details ?? c.autocreate),
  };
}

function reminders(v: unknown): Reminders | null {
  const r = obj(v);
  if (!r) return null;
  return {
    use_default: bool(r.use_default),
    overrides: objArray(r.overrides, (o) => ({
      minutes: long(o.reminder_minutes ?? o.minutes),
      method: str(o.reminder_method ?? o.method),
    })),
  };
}

function toCalendarEvent(o: Obj, fallbackId: string): CalendarEvent {
  return {
    id: str(o.id) ?? fallbackId,
    calendar_id: str(o.calendar_id),
    master_event_id: str(o.master_event_id),
    ical_uid: str(o.ical_uid),
    title: str(o.title),
    description: str(o.description),
    location: str(o.location),
    busy: bool(o.busy),
    status: enumOf(o.status, ['CONFIRMED', 'TENTATIVE', 'CANCELLED'] as const),
    visibility: enumOf(o.visibility, ['DEFAULT', 'PUBLIC', 'PRIVATE', 'CONFIDENTIAL'] as const),
    read_only: bool(o.read_only),
    hide_participants: bool(o.hide_participants),
    html_link: str(o.html_link),
    organizer: person(o.organizer),
    creator: person(o.creator),
    participants: objArray(
      o.participants,
      (p): EventParticipant => ({
        email: str(p.email),
        name: str(p.name),
        status: enumOf(p.status, ['YES', 'NO', 'MAYBE', 'NOREPLY'] as const),
        comment: str(p.comment),
        phone_number: str(p.phone_number),
      }),
    ),
    resources: objArray(o.resources, (r) => person(r)),
    conferencing: conferencing(o.conferencing),
    reminders: reminders(o.reminders),
    recurrence: strArray(o.recurrence),
    occurrences: strArray(o.occurrences),
    cancelled_occurrences: strArray(o.cancelled_occurrences),
    when: when(o.when),
    metadata: metadata(o.metadata),
    created_at: secondsToMs(o.created_at),
    updated_at: secondsToMs(o.updated_at),
    sequence: long(o.sequence),
  };
}

function eventFields(n: Notification): Specific<'events'> {
  const action = crudAction(n);
  const o = action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
  return {
    action,
    transformed: n.suffixes.includes('transformed'),
    event: o ? toCalendarEvent(o, n.object.objectId) : null,
  };
}

function calendarFields(n: Notification): Specific<'calendars'> {
  const action = crudAction(n);
  const o = action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
  const calendar: Calendar | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        name: str(o.name),
        description: str(o.description),
        location: str(o.location),
        timezone: str(o.timezone),
        is_primary: bool(o.is_primary),
        read_only: bool(o.read_only),
        is_owned_by_user: bool(o.is_owned_by_user),
        owner_email: str(o.owner_email),
        hex_color: str(o.hex_color),
        hex_foreground_color: str(o.hex_foreground_color),
        metadata: metadata(o.metadata),
      }
    : null;
  return { action, calendar };
}

function typedEntries<K extends string>(
  v: unknown,
  key: K,
): Array<Record<K, string | null> & { type: string | null }> | null {
  return objArray(
    v,
    (e) =>
      ({ [key]: str(e[key]), type: str(e.type) }) as Record<K, string | null> & {
        type: string | null;
      },
  );
}

function contactFields(n: Notification): Specific<'contacts'> {
  const action = crudAction(n);
  const o = action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
  const contact: Contact | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        given_name: str(o.given_name),
        middle_name: str(o.middle_name),
        surname: str(o.surname),
        suffix: str(o.suffix),
        nickname: str(o.nickname),
        birthday: str(o.birthday),
        company_name: str(o.company_name),
        job_title: str(o.job_title),
        manager_name: str(o.manager_name),
        office_location: str(o.office_location),
        notes: str(o.notes),
        picture_url: str(o.picture_url),
        source: enumOf(o.source, ['ADDRESS_BOOK', 'INBOX', 'DOMAIN'] as const),
        emails: typedEntries(o.emails, 'email'),
        phone_numbers: typedEntries(o.phone_numbers, 'number'),
        physical_addresses: objArray(o.physical_addresses, (a) => ({
          street_address: str(a.street_address),
          city: str(a.city),
          state: str(a.state),
          postal_code: str(a.postal_code),
          country: str(a.country),
          type: str(a.type),
        })),
        web_pages: typedEntries(o.web_pages, 'url'),
        im_addresses: typedEntries(o.im_addresses, 'im_address'),
        groups: Array.isArray(o.groups)
          ? o.groups.map((g) => (isObj(g) ? str(g.id) : str(g))).filter((g): g is string => g !== null)
          : null,
      }
    : null;
  return { action, contact };
}

const GRANT_ACTIONS: Record<string, DomainEventValues['grants']['action']> = {
  created: 'CREATED',
  updated: 'UPDATED',
  deleted: 'DELETED',
  expired: 'EXPIRED',
  imap_sync_completed: 'IMAP_SYNC_COMPLETED',
};

/** Grant codes (contract §3.2): 25027 is a re-authentication. */
const REAUTHENTICATED_CODE = 25027;

function grantFields(n: Notification): Specific<'grants'> {
  const o = obj(n.envelope.data.object);
  let grant: GrantStatus | null = null;
  if (o) {
    const code = long(o.code);
    const flag = bool(o.reauthentication_flag);
    grant = {
      code,
      integration_id: str(o.integration_id),
      login_id: str(o.login_id),
      provider: enumOf(o.provider, [
        'GOOGLE',
        'MICROSOFT',
        'IMAP',
        'YAHOO',
        'ICLOUD',
        'EWS',
        'EAS',
        'NYLAS',
        'ZOOM',
      ] as const),
      email: str(o.email),
      name: str(o.name),
      scope:
        typeof o.scope === 'string' ? o.scope.split(/[\s,]+/).filter((s) => s !== '') : strArray(o.scope),
      reauthenticated: flag === true || code === REAUTHENTICATED_CODE ? true : flag,
      grant_updated_at: secondsToMs(o.grant_updated_at),
    };
  }
  return { action: GRANT_ACTIONS[n.action] ?? 'UNKNOWN', grant };
}

function unmodeledFields(n: Notification): Specific<'unmodeled'> {
  const { object, application_id: _applicationId, ...rest } = n.envelope.data;
  return {
    object_json: json(object),
    data_json: Object.keys(rest).length > 0 ? JSON.stringify(rest) : null,
  };
}

const FAMILY_FIELDS: { [F in TriggerFamily]: (n: Notification) => Specific<(typeof SCHEMA_BY_FAMILY)[F]> } = {
  message: messageFields,
  folder: folderFields,
  tracking: trackingFields,
  delivery: deliveryFields,
  event: eventFields,
  calendar: calendarFields,
  contact: contactFields,
  grant: grantFields,
  unmodeled: unmodeledFields,
};

// ------------------------------------------------------------------------------------------------
// Common fields and the stage entry point.
// ------------------------------------------------------------------------------------------------

interface Common {
  event_id: string;
  event_type: string;
  nylas_type: string;
  grant_id: string;
  application_id: string;
  object_id: string;
  object_version: number;
  occurred_at: number;
  received_at: number;
  nylas_notification_id: string;
  nylas_source: string;
  expanded: boolean;
}

/**
 * The domain event id: a UUID-shaped digest of the notification id and type, so reprocessing or
 * replaying the same notification re-emits the same id (Nylas keeps `id` across its retries).
 */
export function domainEventId(notificationId: string, nylasType: string): string {
  // One-shot crypto.hash (Node >= 20.12): half the time of createHash().update().digest() per event.
  const h = hash('sha256', `nylas-stream/v1\n${notificationId}\n${nylasType}`, 'hex');
  // RFC 9562 version 8 (custom) with the variant bits set, so it parses as a UUID everywhere.
  const variant = ((Number.parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** "message.created" → "message.deleted" when the API said the object is gone. */
function eventTypeOf(n: Notification): string {
  if (!n.goneOnExpand) return n.baseType;
  const dot = n.baseType.lastIndexOf('.');
  return `${dot === -1 ? n.baseType : n.baseType.slice(0, dot)}.deleted`;
}

function commonFields(n: Notification): Common {
  const time = n.envelope.time;
  if (typeof time !== 'number' || !Number.isFinite(time)) throw fail(n, 'envelope time is not a number');
  const version = n.version;
  if (version > BigInt(Number.MAX_SAFE_INTEGER) || version < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw fail(n, `object version ${version} does not fit an Avro long as a JS number`);
  }
  if (n.object.objectId === '') throw fail(n, 'no object id');
  const receivedAt = Number.isFinite(n.receivedAt) ? n.receivedAt : Number(n.record.timestamp);
  return {
    event_id: domainEventId(n.envelope.id, n.envelope.type),
    event_type: eventTypeOf(n),
    nylas_type: n.envelope.type,
    grant_id: n.grantId,
    application_id: n.applicationId,
    object_id: n.object.objectId,
    object_version: Number(version),
    occurred_at: secondsToMs(time) ?? 0,
    received_at: Number.isFinite(receivedAt) ? receivedAt : 0,
    nylas_notification_id: n.envelope.id,
    nylas_source: typeof n.envelope.source === 'string' ? n.envelope.source : '',
    expanded: n.expanded,
  };
}

/** Which domain schema (and so topic) a family maps to. */
export function schemaNameFor(family: TriggerFamily): DomainSchemaName {
  return SCHEMA_BY_FAMILY[family];
}

/**
 * Maps one notification to its domain event. Pure. Throws BadInputError(NORMALIZE_FAILED) for a payload
 * that cannot be published (the runtime dead-letters it). The value is built to conform to its schema
 * (test/unit/processors/stages/normalize.test.ts checks every family and variant); it is not validated
 * again here because encoding validates it (publish.ts), and a value that does not conform becomes a
 * re-drivable SCHEMA_ENCODE_FAILED dead letter naming the field paths, since the fix is in our mapping.
 */
export function normalize(n: Notification, topics: TopicsConfig): DomainEvent {
  const schemaName = SCHEMA_BY_FAMILY[n.family];
  const common = commonFields(n);
  const value = { ...common, ...FAMILY_FIELDS[n.family](n) } as Record<string, unknown>;
  return {
    topic: String(topics[DOMAIN_SCHEMA_TOPICS[schemaName]]),
    key: n.grantId,
    schema: schemaName,
    value,
    headers: {
      [DOMAIN_EVENT_HEADERS.eventType]: common.event_type,
      [DOMAIN_EVENT_HEADERS.notificationId]: n.envelope.id,
      [DOMAIN_EVENT_HEADERS.sourceTopic]: n.record.topic,
      [DOMAIN_EVENT_HEADERS.sourcePartition]: String(n.record.partition),
      [DOMAIN_EVENT_HEADERS.sourceOffset]: n.record.offset,
    },
  };
}
