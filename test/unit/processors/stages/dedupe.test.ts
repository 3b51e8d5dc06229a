import { decode } from '../../../../processors/stages/decode';
import { dedupe, dedupeEntries } from '../../../../processors/stages/dedupe';
import type { Notification } from '../../../../processors/types';
import { messageNotification, rawRecord } from '../../../helpers/raw-notifications';

const G = 'grant-1';

function n(id: string, offset: number, attempt = 1): Notification {
  const d = decode(
    rawRecord({ grantId: G, offset, body: messageNotification(G, { id, messageId: 'm', attempt }) }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

describe('dedupe', () => {
  it('treats the same id with a different delivery attempt (different bytes) as a duplicate', () => {
    const first = n('same', 1, 1);
    const retry = n('same', 2, 2);
    expect(first.record.value?.equals(retry.record.value as Buffer)).toBe(false);
    const r = dedupe([first, retry], () => false);
    expect(r.unique).toEqual([first]);
    expect(r.duplicates).toEqual([retry]);
  });

  it('drops ids the store has seen, keeps new ones in input order', () => {
    const batch = [n('a', 1), n('old', 2), n('b', 3)];
    const r = dedupe(batch, (id) => id === 'old');
    expect(r.unique.map((x) => x.envelope.id)).toEqual(['a', 'b']);
    expect(r.duplicates.map((x) => x.envelope.id)).toEqual(['old']);
  });

  it('remembers each handled id once, for the window', () => {
    const entries = dedupeEntries([n('a', 1), n('a', 2), n('b', 3)], 1000, 500);
    expect(entries).toEqual([
      { id: 'a', expiresAt: 1500 },
      { id: 'b', expiresAt: 1500 },
    ]);
  });
});
