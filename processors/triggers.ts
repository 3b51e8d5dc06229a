/**
 * Trigger routing by prefix (docs/nylas-contract.md §1 and §3.1): suffixes such as `.truncated`,
 * `.cleaned`, `.transformed`, `.metadata` and `.legacy` are delivered but never subscribed to, and can
 * combine (`message.created.cleaned.transformed.truncated`). We strip them, then map the base type to
 * a family. Anything we do not model yet is `unmodeled` and still carried to nylas.unmodeled.
 */
import { TRIGGER_SUFFIXES, type TriggerFamily, type TriggerSuffix } from './types';

export interface TriggerInfo {
  baseType: string;
  suffixes: TriggerSuffix[];
  family: TriggerFamily;
  action: string;
}

const SUFFIXES = new Set<string>(TRIGGER_SUFFIXES);

const TRACKING = new Set(['message.opened', 'message.link_clicked', 'thread.replied']);
const DELIVERY = new Set([
  'message.send_success',
  'message.send_failed',
  'message.bounce_detected',
  // Agent Account deliverability (provider "nylas")
  'message.delivered',
  'message.bounced',
  'message.complaint',
  'message.rejected',
]);
const MESSAGE = new Set(['message.created', 'message.updated', 'message.deleted']);

const BY_PREFIX: ReadonlyArray<[string, TriggerFamily]> = [
  ['message.transactional.', 'delivery'],
  ['folder.', 'folder'],
  ['event.', 'event'],
  ['calendar.', 'calendar'],
  ['contact.', 'contact'],
  ['grant.', 'grant'],
];

export function classifyTrigger(type: string): TriggerInfo {
  const tokens = type.split('.');
  // The base is everything before the first suffix token; everything after is a suffix list.
  const firstSuffix = tokens.findIndex((t, i) => i >= 2 && SUFFIXES.has(t));
  const baseTokens = firstSuffix === -1 ? tokens : tokens.slice(0, firstSuffix);
  const suffixes = (firstSuffix === -1 ? [] : tokens.slice(firstSuffix)).filter((t): t is TriggerSuffix =>
    SUFFIXES.has(t),
  );
  const baseType = baseTokens.join('.');
  const action = baseTokens[baseTokens.length - 1] ?? '';
  let family: TriggerFamily = 'unmodeled';
  if (MESSAGE.has(baseType)) family = 'message';
  else if (TRACKING.has(baseType)) family = 'tracking';
  else if (DELIVERY.has(baseType)) family = 'delivery';
  else {
    for (const [prefix, fam] of BY_PREFIX) {
      if (baseType.startsWith(prefix)) {
        family = fam;
        break;
      }
    }
  }
  return { baseType, suffixes, family, action };
}
