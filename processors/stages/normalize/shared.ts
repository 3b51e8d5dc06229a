/**
 * The pieces every family module of normalize shares: the common fields, the failure it throws, the
 * create/update/delete reading of a trigger, and the participant and attachment lists that messages and
 * delivery results both carry.
 */
import { BadInputError, ErrorCodes } from '../../../lib/errors';
import { bool, isObj, long, type Obj, obj, objArray, str } from '../../../lib/json';
import type {
  Attachment,
  DomainEventValues,
  EmailParticipant,
  Message,
} from '../../../schemas/generated/types';
import type { DomainSchemaName } from '../../../schemas/index';
import type { Notification } from '../../types';

/** The fields every domain schema has (the envelope of the change, set by index.ts for all families):
 * derived from the generated types, so a field added to all schemas is one here without an edit. */
type AnyDomainEvent = DomainEventValues[DomainSchemaName];
export type Common = Pick<AnyDomainEvent, keyof AnyDomainEvent>;

/** The fields of a domain event that its family decides (everything but the common fields). */
export type Specific<K extends DomainSchemaName> = Omit<DomainEventValues[K], keyof Common>;

/** The address lists a message and a sent message both carry, in their schema order. */
export function addressees(o: Obj): Pick<Message, 'from' | 'to' | 'cc' | 'bcc' | 'reply_to'> {
  return {
    from: participants(o.from),
    to: participants(o.to),
    cc: participants(o.cc),
    bcc: participants(o.bcc),
    reply_to: participants(o.reply_to),
  };
}

/** Entries without an address are dropped (the schema requires one); a bare string is an address. */
export function participants(v: unknown): EmailParticipant[] | null {
  if (!Array.isArray(v)) return null;
  const out: EmailParticipant[] = [];
  for (const e of v) {
    if (typeof e === 'string') out.push({ name: null, email: e });
    else if (isObj(e) && typeof e.email === 'string') out.push({ name: str(e.name), email: e.email });
  }
  return out;
}

export function attachments(v: unknown): Attachment[] | null {
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

export function fail(n: Notification, message: string): BadInputError {
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
export function requireObject(n: Notification): Obj {
  const o = obj(n.envelope.data.object);
  if (!o) throw fail(n, `data.object is ${n.envelope.data.object === null ? 'null' : 'missing'}`);
  return o;
}

export type Action3 = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';

export function crudAction(n: Notification): Action3 {
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

/** The object a create, update or delete describes: a delete may carry none (often only the id is left),
 * a create or an update must (requireObject). */
export function objectFor(n: Notification, action: Action3): Obj | null {
  return action === 'DELETED' ? obj(n.envelope.data.object) : requireObject(n);
}
