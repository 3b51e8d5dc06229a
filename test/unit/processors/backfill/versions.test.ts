/**
 * The backfill version rule against live notifications (docs/processor-internals.md "Backfill versions"),
 * through the real decode and order stages: each case feeds notifications in arrival order, one round
 * each, against a store of last versions, and checks which were emitted.
 */

import type { Message } from 'kafkajs';
import { deletionOf, notificationOf } from '../../../../processors/backfill/listing';
import type { BackfillRequest } from '../../../../processors/backfill/records';
import { decode } from '../../../../processors/stages/decode';
import { nextEntry, order, type VersionEntry } from '../../../../processors/stages/order';
import type { Notification, RawRecord } from '../../../../processors/types';
import { envelope, eventObject, messageObject, rawRecord } from '../../../helpers/raw-notifications';

const G = 'grant-v';
const T = 1_790_000_000;
const request: BackfillRequest = {
  kind: 'request',
  id: 'r',
  grantId: G,
  reason: 'reauthentication',
  since: T - 1000,
  until: T,
  families: ['messages', 'events', 'contacts'],
  requestedAt: 0,
};

let offset = 0;

function decoded(r: RawRecord): Notification {
  const d = decode(r);
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

/** A backfilled state of `family` read by a list call Nylas answered at second `at`. */
function backfilled(family: 'messages' | 'contacts' | 'events', object: Record<string, unknown>, at: number) {
  const m = notificationOf(family, object, { request, applicationId: 'app', nylasTime: at, now: 0 });
  if (m === undefined) throw new Error('no notification');
  return asDecoded(m);
}

function asDecoded(m: Message): Notification {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Buffer.from(String(v));
  return decoded({
    topic: 'raw',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(G),
    value: Buffer.from(String(m.value)),
    headers,
    timestamp: '0',
  });
}

/** A reconciliation's delete of a contact missing from a whole listing whose first page was answered at `at`. */
function reconciledDelete(objectId: string, at: number) {
  return asDecoded(
    deletionOf('contacts', objectId, { request, applicationId: 'app', nylasTime: at, now: 0 }),
  );
}

function live(type: string, object: Record<string, unknown>, time: number) {
  return decoded(
    rawRecord({ grantId: G, offset: offset++, body: envelope({ type, id: `live-${offset}`, time, object }) }),
  );
}

/** Runs each notification as its own round in the given order; returns the labels of the emitted ones. */
function emitted(...steps: Array<[string, Notification]>): string[] {
  const store = new Map<string, VersionEntry>();
  const out: string[] = [];
  for (const [label, n] of steps) {
    const r = order([n], (k) => store.get(k));
    if (r.emit.length > 0) out.push(label);
    for (const [k, v] of r.versions) store.set(k, v.entry);
    if (r.emit.length === 0 && r.stale.length === 0) throw new Error('order lost a notification');
  }
  return out;
}

describe('backfilled states against live ones', () => {
  const msg = (extra: Record<string, unknown> = {}) => messageObject(G, 'm1', extra);

  it('a late live notification about an older state is stale after the backfilled one', () => {
    expect(
      emitted(
        ['backfill', backfilled('messages', msg({ unread: false }), T)],
        ['live', live('message.updated', msg(), T - 5)],
      ),
    ).toEqual(['backfill']);
  });

  it('a live notification of an earlier second processed first: the backfilled state follows it', () => {
    expect(
      emitted(
        ['live', live('message.updated', msg(), T - 1)],
        ['backfill', backfilled('messages', msg(), T)],
      ),
    ).toEqual(['live', 'backfill']);
  });

  it('a live notification of the same second wins, whichever comes first', () => {
    expect(
      emitted(['live', live('message.updated', msg(), T)], ['backfill', backfilled('messages', msg(), T)]),
    ).toEqual(['live']);
    expect(
      emitted(['backfill', backfilled('messages', msg(), T)], ['live', live('message.updated', msg(), T)]),
    ).toEqual(['backfill', 'live']);
  });

  it('a live change after the list call is emitted after the backfilled state, and a backfill never undoes it', () => {
    expect(
      emitted(
        ['backfill', backfilled('contacts', { id: 'c1' }, T)],
        ['live', live('contact.updated', { id: 'c1', grant_id: G }, T + 30)],
      ),
    ).toEqual(['backfill', 'live']);
    expect(
      emitted(
        ['live', live('contact.updated', { id: 'c1', grant_id: G }, T + 30)],
        ['backfill', backfilled('contacts', { id: 'c1' }, T)],
      ),
    ).toEqual(['live']);
  });

  it('a live delete stays final against an older backfilled state; a backfill newer than it resurrects', () => {
    expect(
      emitted(
        ['delete', live('message.deleted', msg(), T + 10)],
        ['backfill', backfilled('messages', msg(), T)],
      ),
    ).toEqual(['delete']);
    expect(
      emitted(
        ['delete', live('message.deleted', msg(), T - 10)],
        ['backfill', backfilled('messages', msg(), T)],
      ),
    ).toEqual(['delete', 'backfill']);
  });

  it('events order by updated_at whatever their origin', () => {
    const ev = (updatedAt: number) => eventObject(G, 'e1', { updated_at: updatedAt });
    // The list read the event as updated at T-100; a live notification of an older update (T-200)
    // arrives later: stale. A newer live update (T-50) wins over the backfilled one.
    expect(
      emitted(
        ['backfill', backfilled('events', ev(T - 100), T)],
        ['old', live('event.updated', ev(T - 200), T - 200)],
      ),
    ).toEqual(['backfill']);
    expect(
      emitted(
        ['new', live('event.updated', ev(T - 50), T - 50)],
        ['backfill', backfilled('events', ev(T - 100), T)],
      ),
    ).toEqual(['new']);
  });

  it('the version sits 1 ms below the second for clockless families', () => {
    const n = backfilled('messages', msg(), T);
    expect(n.version).toBe(BigInt(T) * 1000n - 1n);
    expect(nextEntry(undefined, n)).toMatchObject({ version: BigInt(T) * 1000n - 1n, deleted: false });
  });
});

describe("a reconciliation's delete (the object missing from a whole listing) against live states", () => {
  const contact = (extra: Record<string, unknown> = {}) => ({ id: 'c1', grant_id: G, ...extra });

  it('deletes a state emitted before the listing, whichever arrives first', () => {
    expect(
      emitted(['live', live('contact.updated', contact(), T - 60)], ['delete', reconciledDelete('c1', T)]),
    ).toEqual(['live', 'delete']);
    expect(
      emitted(['delete', reconciledDelete('c1', T)], ['live', live('contact.updated', contact(), T - 60)]),
    ).toEqual(['delete']);
  });

  it("never deletes a live state of the listing's second or later (the object exists), in either order", () => {
    expect(
      emitted(['live', live('contact.updated', contact(), T)], ['delete', reconciledDelete('c1', T)]),
    ).toEqual(['live']);
    expect(
      emitted(['live', live('contact.updated', contact(), T + 5)], ['delete', reconciledDelete('c1', T)]),
    ).toEqual(['live']);
    expect(
      emitted(['delete', reconciledDelete('c1', T)], ['live', live('contact.updated', contact(), T + 5)]),
    ).toEqual(['delete', 'live']);
  });

  it('is stale after a live delete (one delete downstream), and a live delete is final as before', () => {
    expect(
      emitted(['live', live('contact.deleted', contact(), T - 60)], ['delete', reconciledDelete('c1', T)]),
    ).toEqual(['live']);
    expect(
      emitted(['delete', reconciledDelete('c1', T)], ['live', live('contact.deleted', contact(), T + 60)]),
    ).toEqual(['delete']);
  });
});
