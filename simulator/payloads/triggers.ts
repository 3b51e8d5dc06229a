/**
 * Trigger types (docs/nylas-contract.md §3.1) and the `source` each one carries (§1).
 */
import type { Provider } from '../world/types';

/** What `POST /v3/webhooks` accepts in `trigger_types`: the OAS enum, plus the ExtractAI triggers the
 * Node SDK knows (§3.1). `contact.created` is not in the OAS enum and is refused (§9 #6). */
export const SUBSCRIBABLE_TRIGGERS: readonly string[] = [
  'grant.created',
  'grant.updated',
  'grant.deleted',
  'grant.expired',
  'grant.imap_sync_completed',
  'message.created',
  'message.updated',
  'message.deleted',
  'message.created.cleaned',
  'message.send_success',
  'message.send_failed',
  'message.bounce_detected',
  'message.opened',
  'message.link_clicked',
  'thread.replied',
  'message.opened.legacy',
  'message.link_clicked.legacy',
  'thread.replied.legacy',
  'calendar.created',
  'calendar.updated',
  'calendar.deleted',
  'event.created',
  'event.updated',
  'event.deleted',
  'contact.updated',
  'contact.deleted',
  'folder.created',
  'folder.updated',
  'folder.deleted',
  'booking.created',
  'booking.pending',
  'booking.rescheduled',
  'booking.cancelled',
  'booking.reminder',
  'notetaker.created',
  'notetaker.updated',
  'notetaker.deleted',
  'notetaker.meeting_state',
  'notetaker.media',
  'message.transactional.delivered',
  'message.transactional.bounced',
  'message.transactional.complaint',
  'message.transactional.rejected',
  'message.delivered',
  'message.bounced',
  'message.complaint',
  'message.rejected',
  'message.intelligence.order',
  'message.intelligence.tracking',
  'message.intelligence.return',
  'message.intelligence.travel',
];

/** What `send-test-event` and `mock-payload` accept (§3.1, "Trigger types accepted by the test tools"). */
export const TEST_TOOL_TRIGGERS: readonly string[] = [
  'grant.created',
  'grant.updated',
  'grant.deleted',
  'grant.expired',
  'calendar.created',
  'calendar.updated',
  'calendar.deleted',
  'event.created',
  'event.updated',
  'event.deleted',
  'message.created',
  'message.created.truncated',
  'message.created.cleaned',
  'message.updated',
  'message.updated.truncated',
  'message.send_success',
  'message.send_failed',
  'message.bounce_detected',
  'message.opened',
  'message.link_clicked',
  'thread.replied',
  'contact.updated',
  'contact.deleted',
  'folder.created',
  'folder.updated',
  'folder.deleted',
];

/** Delivered-only suffixes (§1, §3.1): never subscribed to, always routed by prefix. */
export const DELIVERED_SUFFIXES = ['cleaned', 'transformed', 'metadata', 'truncated', 'legacy'] as const;

/** The subscription a delivered type matches: `message.created.cleaned.transformed.truncated` is
 * delivered to `message.created.cleaned` subscribers if any, else to `message.created` subscribers. */
export function subscriptionCandidates(type: string): string[] {
  const tokens = type.split('.');
  const out: string[] = [];
  for (let n = tokens.length; n >= 2; n--) {
    const t = tokens.slice(0, n).join('.');
    out.push(t);
    const last = tokens[n - 1] as string;
    if (!(DELIVERED_SUFFIXES as readonly string[]).includes(last)) break;
  }
  return out;
}

/** `source` by trigger family and provider (§1's documented values; calendar's is a guess, §3.3). */
export function sourceFor(
  baseType: string,
  provider: Provider,
  sync: 'realtime' | 'incremental' | 'historic' = 'realtime',
): string {
  const p = provider === 'google' || provider === 'microsoft' || provider === 'imap' ? provider : 'imap';
  if (baseType.startsWith('grant.')) return '/nylas/system';
  if (
    baseType === 'message.send_success' ||
    baseType === 'message.send_failed' ||
    baseType === 'message.bounce_detected'
  )
    return '/nylas/send';
  if (
    baseType.startsWith('message.transactional.') ||
    ['message.delivered', 'message.bounced', 'message.complaint', 'message.rejected'].includes(baseType)
  )
    return '/nylas/send';
  if (['message.opened', 'message.link_clicked', 'thread.replied'].includes(baseType))
    return '/com/nylas/tracking';
  if (baseType.endsWith('.legacy')) return '/com/nylas/v2/webhooks';
  if (baseType.startsWith('booking.')) return '/nylas/passthru';
  if (baseType.startsWith('notetaker.')) return '/nylas/notetaker';
  if (baseType.startsWith('message.intelligence.')) return '/nylas/extract';
  if (baseType.startsWith('event.')) return `/${p}/events/${sync === 'historic' ? 'incremental' : sync}`;
  if (baseType.startsWith('calendar.')) return `/${p}/events/incremental`;
  if (baseType.startsWith('contact.')) return `/${p}/contacts/incremental`;
  if (baseType.startsWith('folder.')) return `/${p}/emails/incremental`;
  return `/${p}/emails/${sync}`;
}
