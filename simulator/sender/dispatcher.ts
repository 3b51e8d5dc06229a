/**
 * Fan-out to the destinations registered through the webhooks management API (§6): each notification
 * goes to every active destination subscribed to its trigger (delivered suffixes route by prefix, §1),
 * through one Sender per destination (its own secret, compression and health, §2.1, §2.4). Paused,
 * failed and deleted destinations get nothing (§2.4: no replay).
 */
import type { WebhookRegistry } from '../management/webhooks';
import type { GeneratedNotification } from '../payloads/generator';
import { PreparedNotification } from '../payloads/notification';
import { type DeliveryOutcome, Sender, type SenderOptions, type SendInput } from './sender';

export type DispatcherOptions = Omit<SenderOptions, 'url' | 'secret' | 'destination' | 'compressed'>;

export interface DispatchedOutcome extends DeliveryOutcome {
  destinationId: string;
}

export class Dispatcher {
  private readonly senders = new Map<string, Sender>();

  constructor(
    private readonly registry: WebhookRegistry,
    private readonly options: DispatcherOptions = {},
  ) {}

  /** The sender of one destination (created on first use). */
  senderFor(destinationId: string): Sender {
    let s = this.senders.get(destinationId);
    if (!s) {
      s = new Sender({ ...this.options, destination: this.registry.handle(destinationId) });
      this.senders.set(destinationId, s);
    }
    return s;
  }

  /** Delivers every notification to each subscribed destination; resolves when all retries are done. */
  async send(items: Iterable<SendInput>): Promise<DispatchedOutcome[]> {
    const perDestination = new Map<string, PreparedNotification[]>();
    for (const item of items) {
      const prepared = toPrepared(item);
      for (const d of this.registry.destinationsFor(prepared.type)) {
        const list = perDestination.get(d.id) ?? [];
        list.push(prepared);
        perDestination.set(d.id, list);
      }
    }
    const results = await Promise.all(
      [...perDestination].map(async ([id, list]) =>
        (await this.senderFor(id).send(list)).map((o) => ({ ...o, destinationId: id })),
      ),
    );
    return results.flat();
  }

  close(): void {
    for (const s of this.senders.values()) s.close();
  }
}

function toPrepared(item: SendInput): PreparedNotification {
  if (item instanceof PreparedNotification) return item;
  if ('envelope' in item && 'seq' in item)
    return new PreparedNotification((item as GeneratedNotification).envelope);
  return new PreparedNotification(item);
}
