/**
 * window: a notification is emitted only while the processor's state can still vouch for it (issue 13,
 * "the window is a boundary"). Dedupe ids, versions and tombstones are forgotten DEDUPE_WINDOW after
 * their last write, so without this a delivery re-posted, replayed from the 7-day raw topic or redriven
 * from the 30-day DLQ after that long would be emitted again: an older state after a newer one, the same
 * event id twice, or a deleted object brought back.
 *
 * What is checked is the envelope `time`, not the ingress's received-at: Nylas signs the body only (no
 * timestamp header, docs/nylas-contract.md §2.1), so anyone who captured a delivery can post it again
 * with a fresh received-at, but cannot change `time` without the secret. `time` also travels unchanged
 * through every way back in (re-post, raw-topic replay, DLQ redrive).
 *
 * Why ACCEPT_WINDOW < DEDUPE_WINDOW is enough: every state entry about a notification (its id, the
 * version it set, a later version or tombstone of its object) is written when some notification at
 * least as new is processed, i.e. at a processing time p >= that notification's `time` (it cannot be
 * processed before it happened), and lives until p + DEDUPE_WINDOW. A copy accepted only while
 * now <= time + ACCEPT_WINDOW therefore always meets that entry. The gap DEDUPE_WINDOW − ACCEPT_WINDOW
 * is the slack for a `time` ahead of our clock (clock skew; the scaled simulator clock): a `time` further
 * ahead than the gap would be accepted after its entries are gone, so it is refused as well.
 *
 * Refused records are dead-lettered as BEYOND_WINDOW. `redrive --beyond-window` puts them back with the
 * header `window-override-at` (epoch ms of the redrive): the window is then measured from that moment,
 * and the record goes through dedupe and order as usual, so redriving twice emits it once. A replay of
 * such a record from the raw topic later than ACCEPT_WINDOW after the override is refused again.
 */
import type { IHeaders } from 'kafkajs';
import { ErrorCodes } from '../../lib/errors';
import { headerText } from '../../lib/raw-record';
import { deadLetterOf } from '../dead-letter';
import type { DeadLetter, Notification, RawRecord } from '../types';
import { decode } from './decode';

/** Raw-topic header written by `redrive --beyond-window`: epoch ms from which the window is measured. */
export const WINDOW_OVERRIDE_HEADER = 'window-override-at';

export interface AcceptWindow {
  /** How old (envelope time, or override) a notification may be and still be emitted. */
  acceptWindowMs: number;
  /** How long state entries live after their last write; must exceed acceptWindowMs. */
  dedupeWindowMs: number;
}

/**
 * ACCEPT_WINDOW's default: five sixths of DEDUPE_WINDOW (80 h of the default 96 h;
 * docs/processor-internals.md, "The acceptance window", says why).
 */
export function defaultAcceptWindowMs(dedupeWindowMs: number): number {
  return Math.floor((dedupeWindowMs * 5) / 6);
}

/** The moment the window is measured from (epoch ms). */
export interface Anchor {
  at: number;
  /** `time`: the envelope; `override`: the header of `redrive --beyond-window`. */
  from: 'time' | 'override';
}

/** The envelope time, or a later redrive override (an override never moves a future `time` back). */
export function anchorOf(timeSeconds: number, headers: IHeaders | undefined): Anchor {
  const at = timeSeconds * 1000;
  const override = Number(headers === undefined ? undefined : headerText(headers, WINDOW_OVERRIDE_HEADER));
  return Number.isFinite(override) && override > at
    ? { at: override, from: 'override' }
    : { at, from: 'time' };
}

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 1 ? `${Number(h.toFixed(2))} h` : `${Math.round(ms / 1000)} s`;
}

function when(a: Anchor): string {
  const what = a.from === 'time' ? 'envelope time' : `${WINDOW_OVERRIDE_HEADER}`;
  // A poison `time` (1e400 → Infinity) must not throw here.
  const text = Math.abs(a.at) <= 8.64e15 ? new Date(a.at).toISOString() : String(a.at);
  return `${what} ${text}`;
}

/** Undefined when the state can vouch for a notification anchored at `a`; otherwise why not. */
export function beyondWindow(a: Anchor, now: number, w: AcceptWindow): string | undefined {
  if (!(a.at >= now - w.acceptWindowMs)) {
    return `${when(a)} is more than ACCEPT_WINDOW (${hours(w.acceptWindowMs)}) old; the state may have forgotten it (redrive --beyond-window to emit it anyway)`;
  }
  const slack = w.dedupeWindowMs - w.acceptWindowMs;
  if (a.at > now + slack) {
    return `${when(a)} is more than DEDUPE_WINDOW − ACCEPT_WINDOW (${hours(slack)}) ahead of now; the state would forget it before it leaves the window`;
  }
  return undefined;
}

/** Moves decoded notifications beyond the window to the dead letters (the rest keep their order). */
export function refuseBeyondWindow<T extends { notifications: Notification[]; deadLetters: DeadLetter[] }>(
  decoded: T,
  now: number,
  w: AcceptWindow,
): T {
  const notifications: Notification[] = [];
  const deadLetters = [...decoded.deadLetters];
  for (const n of decoded.notifications) {
    const why = beyondWindow(anchorOf(n.envelope.time, n.record.headers), now, w);
    if (why === undefined) notifications.push(n);
    else deadLetters.push(deadLetterOf(n.record, ErrorCodes.BEYOND_WINDOW, 'window', why));
  }
  return { ...decoded, notifications, deadLetters };
}

/**
 * For `replay` and `redrive`: why the processor would refuse this raw record now, or undefined when it
 * would not (inside the window, or not decodable at all: then decode dead-letters it, as before).
 */
export function recordBeyondWindow(
  m: Pick<RawRecord, 'key' | 'value' | 'offset' | 'timestamp'> & { headers?: IHeaders },
  now: number,
  w: AcceptWindow,
): string | undefined {
  const headers = m.headers ?? {};
  const d = decode({ ...m, topic: '', partition: 0, headers });
  return d.ok ? beyondWindow(anchorOf(d.notification.envelope.time, headers), now, w) : undefined;
}
