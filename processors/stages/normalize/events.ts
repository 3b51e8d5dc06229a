/** The event family: calendar events (`event.created`/`.updated`/`.deleted`, also `.transformed`). */
import {
  bool,
  enumOf,
  json,
  long,
  metadata,
  type Obj,
  obj,
  objArray,
  secondsToMs,
  str,
  strArray,
} from '../../../lib/json';
import type {
  CalendarEvent,
  Conferencing,
  EventParticipant,
  EventWhen,
  Person,
  Reminders,
} from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { crudAction, objectFor, type Specific } from './shared';

function person(v: unknown): Person | null {
  const o = obj(v);
  return o ? { email: str(o.email), name: str(o.name) } : null;
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

export function eventFields(n: Notification): Specific<'events'> {
  const action = crudAction(n);
  const o = objectFor(n, action);
  return {
    action,
    transformed: n.suffixes.includes('transformed'),
    event: o ? toCalendarEvent(o, n.object.objectId) : null,
  };
}
