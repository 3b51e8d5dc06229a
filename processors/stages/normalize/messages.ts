/**
 * The message family: `message.created`/`.updated`/`.deleted` and their suffixes (`.truncated`,
 * `.cleaned`, `.metadata`, `.transformed`), and the one part of an event that can be left out when it is
 * too large for its topic (the body).
 */
import { bool, enumOf, metadata, type Obj, objArray, secondsToMs, str, strArray } from '../../../lib/json';
import type { EmailHeader, Message } from '../../../schemas/generated/types';
import type { DomainEvent, Notification } from '../../types';
import { addressees, attachments, crudAction, objectFor, type Specific } from './shared';

function headers(v: unknown): EmailHeader[] | null {
  return objArray(v, (h) => {
    const name = str(h.name);
    return name === null ? null : { name, value: str(h.value) ?? '' };
  });
}

function toMessage(o: Obj, fallbackId: string): Message {
  return {
    id: str(o.id) ?? fallbackId,
    thread_id: str(o.thread_id),
    subject: str(o.subject),
    ...addressees(o),
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

export function messageFields(n: Notification): Specific<'messages'> {
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
  const o = objectFor(n, action);
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
