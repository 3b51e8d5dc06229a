/**
 * A comparable digest of an object's state, computable from three places that describe it differently:
 * a notification payload (`data.object`, any variant), the simulator's final REST state, and a decoded
 * Avro domain event. Only fields every variant keeps are used (`.transformed` keeps subject, folders and
 * unread of a message; title, status and sequence of an event; `.metadata` drops only body, snippet and
 * attachments), so equal digests mean "the same state" for the final-state check.
 */
import type { ObjectKind } from '../../../simulator';

type Obj = Record<string, unknown>;

/** Processor object types (processors/stages/order.ts objectKeyOf) with a REST collection in the world. */
export const KIND_OF_OBJECT_TYPE: Readonly<Record<string, ObjectKind>> = {
  message: 'messages',
  event: 'events',
  calendar: 'calendars',
  contact: 'contacts',
  folder: 'folders',
};

function text(v: unknown): string {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return v.toLowerCase();
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return [...v.map(text)].sort().join(',');
  return JSON.stringify(v);
}

const FIELDS: Readonly<Record<string, readonly string[]>> = {
  message: ['subject', 'unread', 'folders'],
  event: ['title', 'status', 'sequence'],
  calendar: ['name', 'description'],
  contact: ['given_name', 'surname', 'job_title'],
  folder: ['name'],
};

/** "deleted", or the listed fields of the live object; undefined for types without a world kind. */
export function stateDigest(objectType: string, deleted: boolean, object: unknown): string | undefined {
  const fields = FIELDS[objectType];
  if (!fields) return undefined;
  if (deleted) return 'deleted';
  const o = (typeof object === 'object' && object !== null ? object : {}) as Obj;
  return fields.map((f) => `${f}=${text(o[f])}`).join('|');
}

/** The typed object inside a decoded domain event, by processor object type. */
export function avroObject(objectType: string, value: Obj): unknown {
  const field = {
    message: 'message',
    event: 'event',
    calendar: 'calendar',
    contact: 'contact',
    folder: 'folder',
  }[objectType];
  return field === undefined ? undefined : value[field];
}
