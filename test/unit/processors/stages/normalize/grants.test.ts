/** The grant family (processors/stages/normalize/grants.ts). */
import { grantFields } from '../../../../../processors/stages/normalize/grants';
import { notification } from './notification';

describe('grantFields', () => {
  it('maps every grant action, anything else UNKNOWN', () => {
    const actions = ['created', 'updated', 'deleted', 'expired', 'imap_sync_completed', 'paused'].map(
      (a) => grantFields(notification(`grant.${a}`, {})).action,
    );
    expect(actions).toEqual(['CREATED', 'UPDATED', 'DELETED', 'EXPIRED', 'IMAP_SYNC_COMPLETED', 'UNKNOWN']);
  });

  it('reads the status record: provider enum, scope from text or list, update time in ms', () => {
    const f = grantFields(
      notification('grant.updated', {
        code: '25009',
        provider: 'google',
        email: 'a@x',
        scope: 'email.read, calendar',
        grant_updated_at: 1700000000,
      }),
    );
    expect(f.grant).toMatchObject({
      code: 25009,
      provider: 'GOOGLE',
      email: 'a@x',
      scope: ['email.read', 'calendar'],
      reauthenticated: null,
      grant_updated_at: 1700000000000,
    });
    expect(
      grantFields(notification('grant.created', { scope: ['a', 1], provider: 'aol' })).grant,
    ).toMatchObject({
      scope: ['a', '1'],
      provider: 'UNKNOWN',
    });
  });

  it('is re-authenticated on the flag or on code 25027, else the flag as given', () => {
    const reauthenticated = (o: Record<string, unknown>) =>
      grantFields(notification('grant.updated', o)).grant?.reauthenticated;
    expect(reauthenticated({ code: 25027 })).toBe(true);
    expect(reauthenticated({ code: 25027, reauthentication_flag: false })).toBe(true);
    expect(reauthenticated({ reauthentication_flag: true })).toBe(true);
    expect(reauthenticated({ code: 25009, reauthentication_flag: false })).toBe(false);
  });

  it('is a grant event without a status record when the object is missing, not a failure', () => {
    expect(grantFields(notification('grant.deleted', null))).toEqual({ action: 'DELETED', grant: null });
  });
});
