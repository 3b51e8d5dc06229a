/**
 * The truncation rule (docs/nylas-contract.md §4.1, §9 #15): only `message.*` notifications are
 * ever truncated; when the serialized payload exceeds 1 MB, `body` is removed (everything else is kept)
 * and `.truncated` is appended to `type`. The contract leaves the unit open (1 000 000 or 1 048 576
 * bytes); the default here is the stricter 1 000 000, configurable per sender/generator.
 */
import type { NotificationEnvelope } from './notification';

export const DEFAULT_NOTIFICATION_BYTE_LIMIT = 1_000_000;

export function isTruncatable(type: string): boolean {
  return type.startsWith('message.');
}

/** Whether a notification of `type` whose serialized size is `bytes` must be truncated. */
export function mustTruncate(type: string, bytes: number, limit = DEFAULT_NOTIFICATION_BYTE_LIMIT): boolean {
  return isTruncatable(type) && bytes > limit && !type.split('.').includes('truncated');
}

/** Returns the envelope as Nylas would deliver it: unchanged, or without `body` and with `.truncated`. */
export function applyTruncation(
  env: NotificationEnvelope,
  limit = DEFAULT_NOTIFICATION_BYTE_LIMIT,
): NotificationEnvelope {
  if (!mustTruncate(env.type, Buffer.byteLength(JSON.stringify(env), 'utf8'), limit)) return env;
  const object = env.data.object ? { ...env.data.object } : null;
  if (object) delete object.body;
  return { ...env, type: `${env.type}.truncated`, data: { ...env.data, object } };
}
