/**
 * Named scenarios: scripted sequences of world changes that exercise one part of the contract each.
 * A scenario only decides *what happens*; the runner (runner.ts) sends it and builds the oracle.
 */
import type { GeneratedNotification, NotificationGenerator } from '../payloads/generator';
import type { GeneratedTrigger } from '../world/changes';

export interface ScenarioContext {
  generator: NotificationGenerator;
  /** Total notifications wanted (scenarios treat it as a size hint). */
  count: number;
}

export interface Scenario {
  name: string;
  description: string;
  /** Sender defaults this scenario is about (the caller's options win). */
  senderDefaults?: { duplicateRate?: number; reorderRate?: number; reorderWindow?: number };
  /** Generator defaults (e.g. a higher rate of large bodies). */
  generatorDefaults?: { largeRate?: number };
  /** Yields notifications lazily, in the order the changes happened. */
  generate(ctx: ScenarioContext): Iterable<GeneratedNotification>;
}

function* take(ctx: ScenarioContext, n = ctx.count): Iterable<GeneratedNotification> {
  for (let i = 0; i < n; i++) yield ctx.generator.next();
}

const HOUR = 3600;
const DAY = 24 * HOUR;
/** §7: Nylas backfills a re-authenticated grant only if its last sync was less than this ago. */
const BACKFILL_LIMIT_SECONDS = 72 * HOUR;

export interface GrantExpiryLongOptions {
  /** Messages received by grant A while it is invalid (default 250: more than one page of 200). */
  gapMessages?: number;
  /** How long A stays invalid, in simulated days (default 5; must be over 3, i.e. past the 72 hours). */
  gapDays?: number;
  /** How long B stays invalid, in simulated hours (default 24; must be under 72). */
  shortGapHours?: number;
  /** Default: the world's first grant. */
  grantA?: string;
  /** Default: the world's second grant. */
  grantB?: string;
}

/** One grant's outage in world time (Unix seconds: the clock of envelope `time` and of the API's `Date`). */
export interface GrantOutage {
  grantId: string;
  /** The grant.expired's `time` and its `grant_updated_at` (the last successful sync, §7). */
  expiredAt: number;
  /** The grant.updated (25027)'s `time`, and the Grant's `updated_at` from then on. */
  reauthenticatedAt: number;
  /** The changes held while invalid, by base type, as they happened (a trigger with nothing to act on
   * falls back as in world/changes.ts: e.g. calendar.deleted of a calendar with events → updated). */
  held: Record<string, number>;
}

export interface GrantExpiryLongRun {
  /** Invalid for more than 72 hours: Nylas sends no backfill; the list endpoints must recover its gap
   * (window `{after: a.expiredAt, before: a.reauthenticatedAt}`, see `listableState`). */
  a: GrantOutage;
  /** Invalid for less than 72 hours: Nylas backfills the current state of what changed by itself. */
  b: GrantOutage;
  /** The notifications, in the order the changes happened: both grant.expired, A's message.opened (still
   * sent while invalid), B's grant.updated and its backfill, A's grant.updated alone. */
  notifications: GeneratedNotification[];
}

/** A's changes besides new messages, spread through the gap (scaled with the message count). The third
 * element pins every step of a kind at one point of the gap instead. */
function gapMix(messages: number): Array<[GeneratedTrigger, number, number?]> {
  const share = (per: number, min: number): number => Math.max(min, Math.ceil(messages / per));
  return [
    ['message.updated', share(10, 10)],
    ['message.deleted', share(20, 5)],
    ['message.opened', 3],
    ['event.created', share(50, 5)],
    ['event.updated', share(50, 5)],
    ['event.deleted', share(100, 2)],
    ['contact.updated', share(50, 5)],
    ['contact.deleted', share(100, 2)],
    ['folder.created', 3],
    ['folder.updated', 2],
    ['folder.deleted', 1],
    ['calendar.created', 2],
    ['calendar.updated', 2],
    // Right after the first calendar.created (at ¼), before an event can land in the new calendar:
    // changes.ts deletes only a secondary calendar without events.
    ['calendar.deleted', 1, 0.25],
  ];
}

/** Changes to objects that existed before the outage, made first (before anything new exists to pick),
 * so the gap surely touches old messages, which the time-filtered message list cannot reveal (§7). */
const OLD_OBJECT_CHANGES: readonly GeneratedTrigger[] = [
  'message.updated',
  'message.updated',
  'message.deleted',
  'event.updated',
  'contact.updated',
];

/** B's changes while invalid (backfilled on its re-authentication). */
const SHORT_GAP_CHANGES: readonly GeneratedTrigger[] = [
  'message.created',
  'message.created',
  'message.updated',
  'message.created',
  'event.created',
  'event.updated',
  'contact.updated',
  'message.deleted',
  'message.created',
  'folder.created',
];

function countByType(changes: ReadonlyArray<{ type: string }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) out[c.type] = (out[c.type] ?? 0) + 1;
  return out;
}

/**
 * §7 beyond the 72-hour rule. Grant A expires and stays invalid `gapDays` while its mailbox and calendar
 * keep changing (`gapMessages` new messages, old and new messages updated and deleted, events, contacts,
 * folders and calendars created, updated and deleted); all of it is held, so no notification tells of
 * it. A then re-authenticates: grant.updated (25027, reauthentication_flag) and nothing else. Grant B
 * expires meanwhile for `shortGapHours` and is backfilled by Nylas on re-authentication. Changes are
 * spread evenly through the gap, so their times (message `date`, event `updated_at`) lie inside it.
 *
 * Runs eagerly (the world is in its final state on return) and returns the notifications with the
 * outage times a receiver would see; `listableState(world, a.grantId, {after: a.expiredAt, before:
 * a.reauthenticatedAt})` is what a list-endpoint backfill of A can recover.
 */
export function grantExpiryLong(
  generator: NotificationGenerator,
  options: GrantExpiryLongOptions = {},
): GrantExpiryLongRun {
  const world = generator.world;
  const gapMessages = options.gapMessages ?? 250;
  const gap = Math.round((options.gapDays ?? 5) * DAY);
  const shortGap = Math.round((options.shortGapHours ?? 24) * HOUR);
  const a = options.grantA ?? world.grantIds[0];
  const b = options.grantB ?? world.grantIds[1];
  if (!Number.isInteger(gapMessages) || gapMessages < 0)
    throw new RangeError(`gapMessages must be a non-negative integer, got ${gapMessages}`);
  if (!(gap > BACKFILL_LIMIT_SECONDS)) throw new RangeError('gapDays must be over 3 (past the 72 hours)');
  if (!(shortGap > 0 && shortGap < BACKFILL_LIMIT_SECONDS))
    throw new RangeError('shortGapHours must be over 0 and under 72');
  if (a === undefined || b === undefined || a === b)
    throw new RangeError('grant-expiry-long needs two distinct grants');
  for (const g of [a, b])
    if (!generator.changes.isValid(g)) throw new RangeError(`grant ${g} must be valid to expire`);

  // The whole script as timed actions, run in time order (ties in the order added). Spreading A's
  // changes through the gap keeps them inside the recovery window, whatever their number.
  const t0 = world.now();
  const actions: Array<{ at: number; run: () => GeneratedNotification[] }> = [];
  const at = (time: number, run: () => GeneratedNotification[]): void => {
    actions.push({ at: time, run });
  };
  const force = (trigger: GeneratedTrigger, grantId: string) => () => generator.force(trigger, grantId);
  // changes.ts deletes only a secondary calendar without events and otherwise updates the one it picked
  // at random; a few tries make a deletion all but certain (the extra updates are ordinary changes too).
  const deleteCalendar = (grantId: string) => () => {
    const out: GeneratedNotification[] = [];
    for (let tries = 0; tries < 8; tries++) {
      const before = world.liveIds(grantId, 'calendars').length;
      out.push(...generator.force('calendar.deleted', grantId));
      if (world.liveIds(grantId, 'calendars').length < before) break;
    }
    return out;
  };
  const outage = (grantId: string): GrantOutage => ({
    grantId,
    expiredAt: 0,
    reauthenticatedAt: 0,
    held: {},
  });
  const outA = outage(a);
  const outB = outage(b);
  const expire = (out: GrantOutage) => () => {
    out.expiredAt = world.now();
    return generator.force('grant.expired', out.grantId);
  };
  const reauthenticate = (out: GrantOutage) => () => {
    out.held = countByType(generator.changes.heldFor(out.grantId));
    out.reauthenticatedAt = world.now();
    return generator.force('grant.updated', out.grantId);
  };

  at(t0, expire(outA));
  // Each kind of change is spread evenly through the gap on its own (step k of n at (k + ½) / n), so
  // every kind happens early and late in it, not in clusters.
  const placed: Array<{ p: number; trigger: GeneratedTrigger }> = [];
  const mix: Array<[GeneratedTrigger, number, number?]> = [
    ['message.created', gapMessages],
    ...gapMix(gapMessages),
  ];
  for (const [trigger, n, pinned] of mix)
    for (let k = 0; k < n; k++) placed.push({ p: pinned ?? (k + 0.5) / n, trigger });
  placed.sort((x, y) => x.p - y.p); // stable: at equal points, in the mix's order
  const aSteps = [...OLD_OBJECT_CHANGES, ...placed.map((x) => x.trigger)];
  aSteps.forEach((trigger, i) => {
    const run = trigger === 'calendar.deleted' ? deleteCalendar(a) : force(trigger, a);
    at(t0 + Math.max(1, Math.floor(((i + 1) * gap) / (aSteps.length + 1))), run);
  });
  at(t0 + gap, reauthenticate(outA));

  const bStart = t0 + 60;
  at(bStart, expire(outB));
  SHORT_GAP_CHANGES.forEach((trigger, i) => {
    at(
      bStart + Math.max(1, Math.floor(((i + 1) * shortGap) / (SHORT_GAP_CHANGES.length + 1))),
      force(trigger, b),
    );
  });
  at(bStart + shortGap, reauthenticate(outB));

  actions.sort((x, y) => x.at - y.at);
  const notifications: GeneratedNotification[] = [];
  for (const action of actions) {
    generator.advance(action.at - world.now());
    for (const n of action.run()) notifications.push(n);
  }
  return { a: outA, b: outB, notifications };
}

export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  burst: {
    name: 'burst',
    description:
      'ordinary mixed traffic (all families, variants, occasional >1 MB messages) as fast as allowed',
    generate: (ctx) => take(ctx),
  },
  'out-of-order': {
    name: 'out-of-order',
    description: 'mixed traffic with heavy reordering and duplicates (§1 at-least-once, §5 no ordering)',
    senderDefaults: { duplicateRate: 0.1, reorderRate: 0.3, reorderWindow: 16 },
    generate: (ctx) => take(ctx),
  },
  'large-messages': {
    name: 'large-messages',
    description:
      'many messages over 1 MB, delivered as .truncated without body (§4.1); the API serves them whole',
    generatorDefaults: { largeRate: 0.2 },
    *generate(ctx) {
      const { generator } = ctx;
      for (const grantId of generator.world.grantIds)
        yield* generator.force('message.created', grantId, { bodySize: 1_200_000 });
      yield* take(ctx, Math.max(0, ctx.count - generator.world.grantIds.length));
    },
  },
  'event-storm': {
    name: 'event-storm',
    description:
      'bursts of event.updated on the same events within the same second (ties on time; order by updated_at, sequence)',
    senderDefaults: { reorderRate: 0.5, reorderWindow: 8 },
    *generate(ctx) {
      const { generator } = ctx;
      let produced = 0;
      while (produced < ctx.count) {
        for (const n of generator.force('event.updated')) {
          produced += 1;
          yield n;
        }
      }
    },
  },
  'grant-expiry': {
    name: 'grant-expiry',
    description:
      'grants expire (401 from the API, only message.opened still sent), changes are held, one re-auths within 72 h (backfill), one after 72 h (no backfill) (§7)',
    *generate(ctx) {
      const { generator } = ctx;
      const [a, b] = generator.world.grantIds;
      if (a === undefined || b === undefined) throw new RangeError('grant-expiry needs at least 2 grants');
      yield* generator.force('grant.expired', a);
      yield* generator.force('grant.expired', b);
      for (let i = 0; i < 5; i++) {
        yield* generator.force('message.created', a);
        yield* generator.force('event.updated', a);
        yield* generator.force('message.created', b);
        yield* generator.force('message.opened', a);
      }
      generator.advance(2 * 3600);
      yield* generator.force('grant.updated', a); // within 72 h: grant.updated (25027) + backfill
      generator.advance(72 * 3600);
      yield* generator.force('grant.updated', b); // beyond 72 h: grant.updated only
      yield* take(ctx, Math.max(0, ctx.count - 40));
    },
  },
  'grant-expiry-long': {
    name: 'grant-expiry-long',
    description:
      'grant A is invalid for 5 days (no backfill: recover it from the list endpoints) while max(250, count) messages arrive and events, contacts, folders and calendars change; grant B for a day (backfilled) (§7)',
    *generate(ctx) {
      // The gap's messages are held, not sent, so `count` sizes the gap and then the ordinary traffic
      // that follows (which touches A and B too: compare A with listableState before it runs).
      const run = grantExpiryLong(ctx.generator, { gapMessages: Math.max(250, ctx.count) });
      yield* run.notifications;
      yield* take(ctx, Math.max(0, ctx.count - run.notifications.length));
    },
  },
};

export function scenarioNames(): string[] {
  return Object.keys(SCENARIOS);
}
