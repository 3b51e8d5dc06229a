/** The delivery family: send results, bounces, and agent-account and transactional deliverability. */
import { bool, dateTextToMs, json, long, type Obj, obj, secondsToMs, str, strArray } from '../../../lib/json';
import type { Bounce, DomainEventValues, SendFailure, SentMessage } from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { addressees, attachments, fail, type Specific } from './shared';

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
    ...addressees(o),
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

export function deliveryFields(n: Notification): Specific<'delivery'> {
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
