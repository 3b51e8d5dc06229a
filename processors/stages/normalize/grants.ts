/** The grant family: `grant.created`/`.updated`/`.deleted`/`.expired`/`.imap_sync_completed`. */
import { bool, enumOf, long, type Obj, obj, secondsToMs, str, strArray } from '../../../lib/json';
import type { DomainEventValues, GrantStatus } from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import type { Specific } from './shared';

const GRANT_ACTIONS: Record<string, DomainEventValues['grants']['action']> = {
  created: 'CREATED',
  updated: 'UPDATED',
  deleted: 'DELETED',
  expired: 'EXPIRED',
  imap_sync_completed: 'IMAP_SYNC_COMPLETED',
};

/** Grant codes (contract §3.2): 25027 is a re-authentication. */
const REAUTHENTICATED_CODE = 25027;

/** A grant.updated that re-authenticated the grant: the flag, or code 25027 (the domain event's
 * `reauthenticated`, and what requests a backfill, processors/backfill/facts.ts). */
export function isReauthentication(o: Obj): boolean {
  return bool(o.reauthentication_flag) === true || long(o.code) === REAUTHENTICATED_CODE;
}

export function grantFields(n: Notification): Specific<'grants'> {
  const o = obj(n.envelope.data.object);
  let grant: GrantStatus | null = null;
  if (o) {
    const code = long(o.code);
    const flag = bool(o.reauthentication_flag);
    grant = {
      code,
      integration_id: str(o.integration_id),
      login_id: str(o.login_id),
      provider: enumOf(o.provider, [
        'GOOGLE',
        'MICROSOFT',
        'IMAP',
        'YAHOO',
        'ICLOUD',
        'EWS',
        'EAS',
        'NYLAS',
        'ZOOM',
      ] as const),
      email: str(o.email),
      name: str(o.name),
      scope:
        typeof o.scope === 'string' ? o.scope.split(/[\s,]+/).filter((s) => s !== '') : strArray(o.scope),
      reauthenticated: isReauthentication(o) ? true : flag,
      grant_updated_at: secondsToMs(o.grant_updated_at),
    };
  }
  return { action: GRANT_ACTIONS[n.action] ?? 'UNKNOWN', grant };
}
