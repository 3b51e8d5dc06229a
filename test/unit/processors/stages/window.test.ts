import { loadTopicsConfig } from '../../../../lib/config';
import { ExpansionCache } from '../../../../processors/deferral/index';
import { Pipeline } from '../../../../processors/pipeline';
import { decodeBatch } from '../../../../processors/stages/decode';
import { normalize } from '../../../../processors/stages/normalize';
import { DomainEventEncoder } from '../../../../processors/stages/publish';
import {
  anchorOf,
  beyondWindow,
  refuseBeyondWindow,
  WINDOW_OVERRIDE_HEADER,
} from '../../../../processors/stages/window';
import type { RawRecord } from '../../../../processors/types';
import { messageNotification, rawRecord } from '../../../helpers/raw-notifications';
import { closeTestStores, openTestStore } from '../../../helpers/state-store';

const H = 3_600_000;
const W = { dedupeWindowMs: 96 * H, acceptWindowMs: 80 * H };
const NOW = 1_800_000_000_000;
const G = 'grant-w';

let offset = 0;
function rec(timeMs: number, spec: { id?: string; headers?: Record<string, string> } = {}): RawRecord {
  return rawRecord({
    grantId: G,
    offset: offset++,
    body: messageNotification(G, { id: spec.id ?? `n${offset}`, messageId: 'm', time: timeMs / 1000 }),
    ...(spec.headers ? { extraHeaders: spec.headers } : {}),
  });
}

afterAll(closeTestStores);

describe('window: what the state can vouch for', () => {
  it('accepts envelope times from ACCEPT_WINDOW ago up to the slack ahead; refuses the rest as BEYOND_WINDOW', () => {
    const records = [
      rec(NOW - 80 * H), // the oldest accepted
      rec(NOW - 80 * H - 1000), // just too old
      rec(NOW - 5 * 24 * H), // a replay from the 7-day raw topic
      rec(NOW + 16 * H), // as far ahead as DEDUPE_WINDOW − ACCEPT_WINDOW allows
      rec(NOW + 16 * H + 1000),
      rec(NOW),
    ];
    const out = refuseBeyondWindow(decodeBatch(records), NOW, W);
    expect(out.notifications.map((n) => n.record.offset)).toEqual(
      [records[0], records[3], records[5]].map((r) => r?.offset),
    );
    expect(out.deadLetters.map((d) => [d.record.offset, d.reason, d.stage, d.redrivable, d.code])).toEqual(
      [records[1], records[2], records[4]].map((r) => [
        r?.offset,
        'BEYOND_WINDOW',
        'window',
        true,
        'BEYOND_WINDOW',
      ]),
    );
    expect(out.deadLetters[0]?.message).toMatch(/more than ACCEPT_WINDOW \(80 h\) old/);
    expect(out.deadLetters[2]?.message).toMatch(/ahead of now/);
  });

  it('measures from the redrive override when it is later than the envelope time', () => {
    const old = NOW - 10 * 24 * H;
    const fresh = rec(old, { headers: { [WINDOW_OVERRIDE_HEADER]: String(NOW - H) } });
    const stale = rec(old, { headers: { [WINDOW_OVERRIDE_HEADER]: String(NOW - 81 * H) } });
    const junk = rec(old, { headers: { [WINDOW_OVERRIDE_HEADER]: 'yes' } });
    const out = refuseBeyondWindow(decodeBatch([fresh, stale, junk]), NOW, W);
    expect(out.notifications.map((n) => n.record.offset)).toEqual([fresh.offset]);
    expect(out.deadLetters.map((d) => d.message.split(' ')[0])).toEqual([WINDOW_OVERRIDE_HEADER, 'envelope']);
    // An override never moves a `time` from the future back into the window.
    expect(anchorOf((NOW + 20 * H) / 1000, { [WINDOW_OVERRIDE_HEADER]: Buffer.from(String(NOW)) })).toEqual({
      at: NOW + 20 * H,
      from: 'time',
    });
  });

  it('refuses a time no clock can show (a 400-digit string is Infinity) without throwing', () => {
    expect(beyondWindow({ at: Number.POSITIVE_INFINITY, from: 'time' }, NOW, W)).toMatch(/Infinity is more/);
    expect(beyondWindow({ at: Number.NaN, from: 'time' }, NOW, W)).toMatch(/old/);
  });
});

describe('window in the pipeline: a notification is never emitted twice, however late it comes back', () => {
  const topics = loadTopicsConfig({});
  const pipeline = new Pipeline({
    topics,
    dedupeWindowMs: W.dedupeWindowMs,
    acceptWindowMs: W.acceptWindowMs,
    deferAfterMs: 0,
    normalize,
    encoder: new DomainEventEncoder(new Map([[topics.emailMessages, 1]])),
    expand: () => Promise.reject(new Error('no expansion here')),
  });

  // First processed at `first` (delivered `lag` after its time), then the same bytes come back at
  // `again` (a re-post, a raw-topic replay or a redrive): emitted at most once, whatever the times.
  it.each([
    [0, 97],
    [0, 100],
    [0, 79],
    [72, 100],
    [72, 152],
    [79, 170],
    [0, 24 * 29],
  ])('delivered %i h late, back %i h after its time', async (lagH, againH) => {
    const time = NOW - 200 * H;
    const record = rec(time, { id: `again-${lagH}-${againH}` });
    const store = await openTestStore(0);
    const first = await pipeline.run([record], store, time + lagH * H, new ExpansionCache());
    await store.apply(first.stateChanges);
    const second = await pipeline.run([record], store, time + againH * H, new ExpansionCache());
    const emitted = first.domain.length + second.domain.length;
    expect(emitted).toBeLessThanOrEqual(1);
    // Refused rather than silently lost: what is not emitted the second time is a duplicate or a dead letter.
    if (second.domain.length === 0 && againH * H > W.acceptWindowMs)
      expect(second.deadLetters.map((d) => d.reason)).toEqual(['BEYOND_WINDOW']);
  });
});
