/**
 * Delivered-only type variants (docs/nylas-contract.md §3.1): `.cleaned` (Clean Conversations
 * Markdown body), `.metadata` (gmail.metadata scope: no body/snippet/attachments, with headers),
 * `.transformed` (field customization, ID fields always kept), `.legacy` (v2 `deltas[]` tracking).
 * `.truncated` is the size rule, in truncation.ts.
 */
import type { NylasObject } from '../world/types';

/** §3.1: field customization keeps these on messages; the rest of the set is this simulator's choice. */
const TRANSFORMED_MESSAGE_FIELDS = [
  'id',
  'grant_id',
  'application_id',
  'object',
  'thread_id',
  'subject',
  'from',
  'to',
  'date',
  'body',
  'folders',
  'unread',
];
/** §3.1: events always keep id, grant_id, application_id, calendar_id, master_event_id. */
const TRANSFORMED_EVENT_FIELDS = [
  'id',
  'grant_id',
  'application_id',
  'calendar_id',
  'master_event_id',
  'object',
  'title',
  'when',
  'status',
  'updated_at',
  'sequence',
];

export function transformObject(obj: NylasObject, applicationId: string): NylasObject {
  const fields = obj.object === 'event' ? TRANSFORMED_EVENT_FIELDS : TRANSFORMED_MESSAGE_FIELDS;
  const out: NylasObject = {};
  const withApp: NylasObject = { ...obj, application_id: applicationId };
  for (const f of fields) if (f in withApp) out[f] = withApp[f];
  return out;
}

/** §3.1 `.metadata`: no body, snippet or attachments, but `headers[]`. */
export function metadataObject(obj: NylasObject): NylasObject {
  const { body: _b, snippet: _s, attachments: _a, ...rest } = obj;
  const from = (obj.from as Array<{ email?: string }> | undefined)?.[0]?.email ?? '';
  return {
    ...rest,
    headers: [
      { name: 'Message-ID', value: `<${String(obj.id)}@mail.gmail.com>` },
      { name: 'From', value: from },
      { name: 'Subject', value: String(obj.subject ?? '') },
      { name: 'Date', value: new Date(Number(obj.date) * 1000).toUTCString() },
    ],
  };
}

/** §3.1 `.cleaned`: the body as cleaned Markdown, with `cleaning_status`. */
export function cleanedBody(html: string): string {
  return html
    .replace(/<\/p><p>/g, '\n\n')
    .replace(/<[^>]+>/g, '')
    .trim();
}

/** §3.2 `.legacy` tracking: the v2 `deltas[]` format. */
export function legacyTrackingObject(type: string, obj: NylasObject, time: number): NylasObject {
  const v2Type = type === 'thread.replied' ? 'thread.replied' : type;
  return {
    deltas: [
      {
        date: time,
        object: obj.object,
        type: v2Type,
        object_data: {
          account_id: obj.grant_id ?? null,
          id: obj.message_id ?? null,
          namespace_id: obj.grant_id ?? null,
          object: obj.object,
          metadata: {
            sender_app_id: obj.sender_app_id ?? null,
            link_data: obj.link_data ?? null,
            message_id: obj.message_id ?? null,
            payload: obj.label ?? null,
            recents: obj.recents ?? null,
            reply_data: obj.reply_data ?? null,
            thread_id: obj.thread_id ?? null,
            timestamp: obj.timestamp ?? null,
          },
        },
      },
    ],
    grant_id: obj.grant_id,
    object: obj.object,
  };
}
