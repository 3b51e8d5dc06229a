/**
 * Example notifications for `POST /v3/webhooks/mock-payload` (§6.5) and `send-test-event` (§6.6),
 * built by the same generator as real traffic, from a small private world (so the test tools never
 * change the world the API serves).
 */
import type { GeneratedTrigger } from '../world/changes';
import { createWorld } from '../world/world';
import { NotificationGenerator } from './generator';
import type { NotificationEnvelope } from './notification';

export function createMockNotifications(
  applicationId: string,
): (triggerType: string) => NotificationEnvelope {
  let counter = 0;
  return (triggerType) => {
    counter += 1;
    const world = createWorld({
      seed: 0x5eed + counter,
      grants: 1,
      applicationId,
      initialObjects: { messages: 0, events: 0 },
    });
    const generator = new NotificationGenerator({
      world,
      variants: { cleaned: 0, transformed: 0, legacy: 0, metadataGrants: 0 },
    });
    const grantId = world.grantIds[0] as string;
    const truncated = triggerType.endsWith('.truncated');
    const cleaned = triggerType.includes('.cleaned');
    const base = triggerType.replace(/\.(truncated|cleaned)/g, '') as GeneratedTrigger;
    if (base === 'grant.updated') generator.force('grant.expired', grantId);
    if (base === 'message.updated' && truncated) {
      generator.force('message.created', grantId, { bodySize: 1_200_000 });
    }
    // Some triggers need something to act on first (tracking needs a sent message); the generator
    // creates it on the first call, so try a few times until the wanted trigger comes out.
    for (let attempt = 0; attempt < 3; attempt++) {
      const out =
        base === 'message.created'
          ? generator.force(base, grantId, { bodySize: truncated ? 1_200_000 : 1500, cleaned })
          : generator.force(base, grantId, { cleaned });
      const hit = out.find((n) => n.baseType === base);
      if (hit) return hit.envelope;
    }
    throw new Error(`cannot build a mock payload for ${triggerType}`);
  };
}
