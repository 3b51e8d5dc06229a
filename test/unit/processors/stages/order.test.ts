import fc from 'fast-check';
import { objectKeyString } from '../../../../processors/object-identity';
import { decode } from '../../../../processors/stages/decode';
import { nextEntry, order, supersedes, type VersionEntry } from '../../../../processors/stages/order';
import type { Notification } from '../../../../processors/types';
import { envelope, eventObject, messageNotification, rawRecord } from '../../../helpers/raw-notifications';

const G = 'grant-1';
let seq = 0;

function msg(
  action: 'created' | 'updated' | 'deleted',
  time: number,
  offset: number,
  messageId = 'm1',
): Notification {
  const d = decode(
    rawRecord({
      grantId: G,
      offset,
      body: messageNotification(G, { id: `n${seq++}`, messageId, action, time }),
    }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

function event(type: string, time: number, offset: number, extra: Record<string, unknown>): Notification {
  const d = decode(
    rawRecord({
      grantId: G,
      offset,
      body: envelope({ type, id: `n${seq++}`, time, object: eventObject(G, 'e1', extra) }),
    }),
  );
  if (!d.ok) throw new Error(d.deadLetter.message);
  return d.notification;
}

/** Runs batches through order() with an in-memory store, like the processor does across transactions. */
function runBatches(batches: Notification[][]): { emitted: Notification[]; stale: Notification[] } {
  const store = new Map<string, VersionEntry>();
  const emitted: Notification[] = [];
  const stale: Notification[] = [];
  for (const b of batches) {
    const r = order(b, (k) => store.get(k));
    emitted.push(...r.emit);
    stale.push(...r.stale);
    for (const [k, v] of r.versions) store.set(k, v.entry);
  }
  return { emitted, stale };
}

const ids = (ns: Notification[]) => ns.map((n) => `${n.action}@${n.envelope.time}`);

describe('order: the version rules', () => {
  it('emits an .updated that arrives before its .created as the newest state; the late .created is stale', () => {
    const updated = msg('updated', 200, 1);
    const created = msg('created', 100, 2);
    const r = runBatches([[updated], [created]]);
    expect(ids(r.emitted)).toEqual(['updated@200']);
    expect(ids(r.stale)).toEqual(['created@100']);
  });

  it('within one batch, sorts by version so both states come out in order', () => {
    const updated = msg('updated', 200, 1);
    const created = msg('created', 100, 2);
    expect(ids(runBatches([[updated, created]]).emitted)).toEqual(['created@100', 'updated@200']);
  });

  it('suppresses a stale update after a newer one', () => {
    const r = runBatches([[msg('updated', 300, 1)], [msg('updated', 200, 2)]]);
    expect(ids(r.emitted)).toEqual(['updated@300']);
    expect(ids(r.stale)).toEqual(['updated@200']);
  });

  it('keeps a delete final against a stale or equal update, resurrects on a strictly newer one', () => {
    const r = runBatches([
      [msg('created', 100, 1)],
      [msg('deleted', 200, 2)],
      [msg('updated', 150, 3)],
      [msg('updated', 200, 4)],
      [msg('updated', 250, 5)],
    ]);
    expect(ids(r.emitted)).toEqual(['created@100', 'deleted@200', 'updated@250']);
    expect(ids(r.stale)).toEqual(['updated@150', 'updated@200']);
  });

  it('applies a delete to a live state even when its clock is behind, keeping the higher version', () => {
    const store = new Map<string, VersionEntry>();
    const upd = msg('updated', 300, 1);
    const del = msg('deleted', 250, 2);
    const late = msg('updated', 300, 3);
    for (const b of [[upd], [del], [late]]) {
      const r = order(b, (k) => store.get(k));
      for (const [k, v] of r.versions) store.set(k, v.entry);
      if (b[0] === late) expect(r.stale).toEqual([late]);
      else expect(r.emit).toEqual(b);
    }
    expect(store.get(objectKeyString(upd.object))).toEqual({ version: 300_000n, offset: '2', deleted: true });
  });

  it('treats a second delete as stale', () => {
    const r = runBatches([[msg('deleted', 100, 1)], [msg('deleted', 100, 2)]]);
    expect(r.emitted).toHaveLength(1);
    expect(r.stale).toHaveLength(1);
  });

  it('breaks equal versions by arrival (the later update wins), but a .created never follows its own version', () => {
    const r = runBatches([[msg('updated', 100, 1)], [msg('updated', 100, 2)], [msg('created', 100, 3)]]);
    expect(ids(r.emitted)).toEqual(['updated@100', 'updated@100']);
    expect(ids(r.stale)).toEqual(['created@100']);
  });

  it('orders events with equal envelope time by updated_at (then sequence)', () => {
    const newer = event('event.updated', 1000, 1, { updated_at: 900, sequence: 0 });
    const older = event('event.updated', 1000, 2, { updated_at: 800, sequence: 5 });
    const resequenced = event('event.updated', 1000, 3, { updated_at: 900, sequence: 1 });
    const r = runBatches([[newer], [older], [resequenced]]);
    expect(r.emitted).toEqual([newer, resequenced]);
    expect(r.stale).toEqual([older]);
  });

  it('always emits events that are not states (send results, bounces)', () => {
    const send = (offset: number, time: number) => {
      const d = decode(
        rawRecord({
          grantId: G,
          offset,
          body: envelope({
            type: 'message.send_success',
            id: `s${offset}`,
            time,
            data: { grant_id: G },
            object: { id: 'm', grant_id: G },
          }),
        }),
      );
      if (!d.ok) throw new Error('decode');
      return d.notification;
    };
    const r = runBatches([[send(1, 200)], [send(2, 100)]]);
    expect(r.emitted).toHaveLength(2);
    const again = order([send(3, 50)], () => ({ version: 10n ** 15n, offset: '0', deleted: false }));
    expect(again.emit).toHaveLength(1);
    expect(again.versions.size).toBe(0);
  });

  it('places the emitted states of an object in its arrival slots, so output follows input across objects', () => {
    const a2 = msg('updated', 200, 1, 'a');
    const b1 = msg('updated', 100, 2, 'b');
    const a1 = msg('created', 100, 3, 'a');
    const r = order([a2, b1, a1], () => undefined);
    expect(r.emit).toEqual([a1, b1, a2]);
  });

  it('supersedes/nextEntry follow the table', () => {
    const upd = msg('updated', 100, 1);
    expect(supersedes(undefined, upd)).toBe(true);
    expect(supersedes({ version: 100_000n, offset: '0', deleted: true }, upd)).toBe(false);
    expect(supersedes({ version: 99_000n, offset: '0', deleted: true }, upd)).toBe(true);
    expect(nextEntry(undefined, upd)).toEqual({ version: 100_000n, offset: '1', deleted: false });
    expect(nextEntry(undefined, { ...upd, goneOnExpand: true }).deleted).toBe(true);
  });
});

describe('order: property', () => {
  it('never emits an older state of an object after a newer one, and every notification is emitted or stale', () => {
    const op = fc.record({
      object: fc.constantFrom('x', 'y', 'z'),
      action: fc.constantFrom('created', 'updated', 'deleted') as fc.Arbitrary<
        'created' | 'updated' | 'deleted'
      >,
      time: fc.integer({ min: 1, max: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 30 }),
        (ops, cuts) => {
          const all = ops.map((o, i) => msg(o.action, o.time, i, o.object));
          const batches: Notification[][] = [];
          let i = 0;
          for (const c of cuts) {
            if (i >= all.length) break;
            batches.push(all.slice(i, i + c));
            i += c;
          }
          if (i < all.length) batches.push(all.slice(i));
          const r = runBatches(batches);
          expect(r.emitted.length + r.stale.length).toBe(all.length);
          const last = new Map<string, { version: bigint; deleted: boolean }>();
          for (const n of r.emitted) {
            const k = n.object.objectId;
            const prev = last.get(k);
            if (prev) {
              // A delete applies to any live state (its clock may lag); anything else must be newer.
              if (n.action !== 'deleted') expect(n.version >= prev.version).toBe(true);
              if (prev.deleted && n.action !== 'deleted') expect(n.version > prev.version).toBe(true);
              if (prev.deleted) expect(n.action).not.toBe('deleted');
              if (!prev.deleted && n.version === prev.version) expect(n.action).not.toBe('created');
            }
            last.set(k, {
              version: prev && n.action === 'deleted' && prev.version > n.version ? prev.version : n.version,
              deleted: n.action === 'deleted',
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
