/**
 * Named scenarios: scripted sequences of world changes that exercise one part of the contract each.
 * A scenario only decides *what happens*; the runner (runner.ts) sends it and builds the oracle.
 */
import type { GeneratedNotification, NotificationGenerator } from '../payloads/generator';

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
};

export function scenarioNames(): string[] {
  return Object.keys(SCENARIOS);
}
