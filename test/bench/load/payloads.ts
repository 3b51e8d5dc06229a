/**
 * Pre-signed notifications for the ingress scenarios: `event.updated` from the simulator's generator
 * (the trigger of Nylas's "20 accounts with shared calendars" warning) across many grants, padded to an
 * exact size through the event's description, and signed once, so the load generator spends its time
 * sending, not building.
 */
import { DEFAULT_TRIGGER_WEIGHTS, NotificationGenerator, signBody } from '../../../simulator';
import { createWorld, type World } from '../../../simulator/world/world';

export interface SignedPayload {
  body: Buffer;
  signature: string;
}

/** What the load generator sends: the i-th request's bytes and signature. */
export interface PayloadSource {
  next(i: number): SignedPayload;
}

export interface PayloadOptions {
  count: number;
  /** Exact body size in bytes. */
  bytes: number;
  grants: number;
  seed: number;
  secret: string;
}

export function buildPayloads(o: PayloadOptions): SignedPayload[] {
  const world = createWorld({ seed: o.seed, grants: o.grants });
  const weights: Record<string, number> = {};
  for (const k of Object.keys(DEFAULT_TRIGGER_WEIGHTS)) weights[k] = 0;
  weights['event.updated'] = 1;
  const generator = new NotificationGenerator({ world, weights, reauthRate: 0 });
  const out: SignedPayload[] = [];
  while (out.length < o.count) {
    const { envelope } = generator.next();
    const object = envelope.data.object;
    if (object === null) continue;
    const description = typeof object.description === 'string' ? object.description : '';
    object.description = description;
    const base = Buffer.byteLength(JSON.stringify(envelope));
    if (base < o.bytes) object.description = description + 'x'.repeat(o.bytes - base);
    const body = Buffer.from(JSON.stringify(envelope));
    out.push({ body, signature: signBody(body, o.secret) });
  }
  return out;
}

export interface MixOptions {
  grants: number;
  seed: number;
  secret: string;
  /** Keep the simulator's >1 MB messages (delivered `.truncated`, expanded by the processor). */
  largeMessages: boolean;
  apiPort: number;
  apiKey: string;
}

/** The simulator's realistic traffic, generated and signed as it is sent (a long soak never holds it). */
export class MixSource implements PayloadSource {
  readonly world: World;
  private readonly generator: NotificationGenerator;
  private generated = 0;
  private truncated = 0;
  private bytes = 0;

  constructor(private readonly o: MixOptions) {
    this.world = createWorld({ seed: o.seed, grants: o.grants });
    this.generator = new NotificationGenerator({
      world: this.world,
      // Simulated time follows the wall clock (next()) instead of a mean second per notification: at
      // hundreds a second that ran the envelope times hours ahead, and the processor refuses a
      // notification further ahead than DEDUPE_WINDOW − ACCEPT_WINDOW (BEYOND_WINDOW): a soak with a
      // short window dead-lettered everything and its state never grew.
      meanGapSeconds: 0,
      ...(o.largeMessages ? {} : { bodySizes: { largeRate: 0 } }),
    });
  }

  next(): SignedPayload {
    this.world.advance(Math.floor(Date.now() / 1000) - this.world.now());
    const n = this.generator.next();
    const body = Buffer.from(JSON.stringify(n.envelope));
    this.generated += 1;
    this.bytes += body.length;
    if (n.truncated) this.truncated += 1;
    return { body, signature: signBody(body, this.o.secret) };
  }

  stats(): { generated: number; truncated: number; meanBytes: number } {
    return {
      generated: this.generated,
      truncated: this.truncated,
      meanBytes: this.generated > 0 ? Math.round(this.bytes / this.generated) : 0,
    };
  }
}
