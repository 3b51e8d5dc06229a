/** The tracking family: `message.opened`, `message.link_clicked`, `thread.replied`, also as `.legacy`. */
import { bool, json, long, obj, objArray, secondsToMs, str } from '../../../lib/json';
import type {
  ClickRecent,
  DomainEventValues,
  LegacyTrackingDelta,
  LinkClickCount,
  OpenRecent,
} from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { requireObject, type Specific } from './shared';

/** A .legacy payload is the v2 deltas format (contract §3.2 tracking). */
function isLegacy(n: Notification): boolean {
  return n.suffixes.includes('legacy');
}

const TRACKING_ACTIONS: Record<string, DomainEventValues['tracking']['action']> = {
  'message.opened': 'OPENED',
  'message.link_clicked': 'LINK_CLICKED',
  'thread.replied': 'REPLIED',
};

export function trackingFields(n: Notification): Specific<'tracking'> {
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
