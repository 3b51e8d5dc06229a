/**
 * Reconciliation's rules (processors/backfill/reconcile.ts) and the known-objects index records the
 * processor writes for them (processors/backfill/known-objects.ts).
 */
import {
  type GrantKnownObjects,
  knownObjectKey,
  knownObjectMessage,
  parseKnownObjectKey,
} from '../../../../processors/backfill/known-objects';
import { unlisted } from '../../../../processors/backfill/reconcile';
import type { ListedPage, RunningBackfill } from '../../../../processors/backfill/records';
import { decode } from '../../../../processors/stages/decode';
import type { Notification } from '../../../../processors/types';
import { envelope, messageObject, rawRecord } from '../../../helpers/raw-notifications';

const G = 'grant-r';
const T = 1_790_000_000;

function running(listedFrom: RunningBackfill['listedFrom']): RunningBackfill {
  return {
    request: {
      kind: 'request',
      id: 'r1',
      grantId: G,
      reason: 'reauthentication',
      since: T - 86_400,
      until: T,
      families: ['messages', 'contacts', 'folders', 'calendars'],
      requestedAt: 0,
    },
    position: { listing: 9, cursor: null },
    objects: 0,
    pages: 0,
    calls: 0,
    startedAt: 0,
    ...(listedFrom === undefined ? {} : { listedFrom }),
  };
}

const page = (family: ListedPage['family'], ...ids: string[]): ListedPage => ({
  kind: 'listed',
  family,
  ids,
});

function known(entries: Record<string, Record<string, number>>): GrantKnownObjects {
  return new Map(
    Object.entries(entries).map(([family, ids]) => [family as never, new Map(Object.entries(ids))]),
  );
}

describe('unlisted: known objects a whole listing no longer returned', () => {
  it('judges deleted what was emitted before the listing and is on no page, across pages', () => {
    const gone = unlisted(
      running({ contacts: T }),
      [page('contacts', 'a', 'b'), page('contacts', 'c')],
      known({ contacts: { a: T - 500, b: T - 10, c: T - 1, d: T - 100, e: T - 1 } }),
    );
    expect(gone).toEqual([
      { family: 'contacts', objectId: 'd', at: T },
      { family: 'contacts', objectId: 'e', at: T },
    ]);
  });

  it("leaves alone what was emitted in or after the listing's first second (it may postdate its page)", () => {
    expect(
      unlisted(running({ contacts: T }), [page('contacts', 'a')], known({ contacts: { x: T, y: T + 40 } })),
    ).toEqual([]);
  });

  it('judges only the families this backfill listed whole, each against its own listing time', () => {
    const gone = unlisted(
      running({ folders: T, calendars: T + 3 }),
      [page('folders', 'f1'), page('calendars')],
      known({
        contacts: { c1: T - 100 }, // contacts not listed by this backfill: nothing said about them
        folders: { f1: T - 100, f2: T - 100 },
        calendars: { k1: T + 1, k2: T + 5 }, // k1 emitted before the calendars' first page: gone
      }),
    );
    expect(gone).toEqual([
      { family: 'folders', objectId: 'f2', at: T },
      { family: 'calendars', objectId: 'k1', at: T + 3 },
    ]);
  });

  it('says nothing without a whole listing or without known objects', () => {
    expect(unlisted(running(undefined), [], known({ contacts: { a: 1 } }))).toEqual([]);
    expect(unlisted(running({ contacts: T }), [page('contacts')], undefined)).toEqual([]);
  });
});

describe('knownObjectMessage: the index record of an emitted domain event', () => {
  let offset = 0;
  const notification = (type: string, object: Record<string, unknown>, time = T): Notification => {
    const d = decode(
      rawRecord({ grantId: G, offset: offset++, body: envelope({ type, id: `n-${offset}`, time, object }) }),
    );
    if (!d.ok) throw new Error(d.deadLetter.message);
    return d.notification;
  };

  it('an existing contact, calendar or folder: its key and the Nylas time it was emitted at', () => {
    for (const [type, family] of [
      ['contact.updated', 'contacts'],
      ['calendar.created', 'calendars'],
      ['folder.updated', 'folders'],
    ] as const) {
      const m = knownObjectMessage(notification(type, { id: 'o1', grant_id: G }, T + 0.7));
      expect(m).toEqual({
        key: knownObjectKey(G, family, 'o1'),
        value: JSON.stringify({ at: T }),
        partition: 0,
      });
      expect(parseKnownObjectKey(String(m?.key))).toEqual({ grantId: G, family, objectId: 'o1' });
    }
  });

  it('a deleted one: a tombstone', () => {
    const m = knownObjectMessage(
      notification('contact.deleted', { id: 'o1', grant_id: G, object: 'contact' }),
    );
    expect(m).toMatchObject({ key: knownObjectKey(G, 'contacts', 'o1'), value: null });
  });

  it('messages and events are not indexed (listed by time windows, "not listed" means nothing)', () => {
    expect(knownObjectMessage(notification('message.created', messageObject(G, 'm1')))).toBeUndefined();
  });

  it('refuses keys that are not its own', () => {
    for (const k of ['x', '["g","messages","m"]', '["g","contacts"]', '[1,"contacts","c"]', null])
      expect(parseKnownObjectKey(k)).toBeUndefined();
  });
});
