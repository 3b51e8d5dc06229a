import {
  buildNotification,
  createWorld,
  Dispatcher,
  type NylasApiServer,
  scaledClock,
  signBody,
  startNylasApi,
} from '../../../../simulator';
import { type ScriptedReceiver, startScriptedReceiver } from '../../../helpers/scripted-webhook-receiver';

let api: NylasApiServer;
let a: ScriptedReceiver;
let b: ScriptedReceiver;
beforeEach(async () => {
  api = await startNylasApi({ world: createWorld({ seed: 1, grants: 1 }), apiKey: 'k' });
  a = await startScriptedReceiver();
  b = await startScriptedReceiver();
});
afterEach(async () => {
  await Promise.all([api.close(), a.close(), b.close()]);
});

const note = (id: string, type: string) =>
  buildNotification({
    type,
    source: '/x',
    id,
    time: 1,
    applicationId: 'app',
    object: { id: 'o', grant_id: 'g' },
  });

describe('Dispatcher (fan-out to registered destinations)', () => {
  it('sends each notification to every active subscriber, signed with that destination’s secret', async () => {
    const da = await api.webhooks.create({
      trigger_types: ['message.created', 'event.updated'],
      webhook_url: a.url,
    });
    const db = await api.webhooks.create({
      trigger_types: ['message.created'],
      webhook_url: b.url,
      compressed_delivery: true,
    });
    const dispatcher = new Dispatcher(api.webhooks, { clock: scaledClock(60_000) });
    try {
      const outcomes = await dispatcher.send([
        note('n1', 'message.created.truncated'),
        note('n2', 'event.updated'),
        note('n3', 'contact.updated'),
      ]);
      expect(outcomes.map((o) => `${o.destinationId}:${o.notificationId}`).sort()).toEqual(
        [`${da.id}:n1`, `${da.id}:n2`, `${db.id}:n1`].sort(),
      );
      const [toA] = a.received.filter((r) => r.method === 'POST');
      expect(toA?.headers['x-nylas-signature']).toBe(signBody(toA!.body, da.webhook_secret));
      const [toB] = b.received.filter((r) => r.method === 'POST');
      expect(toB?.headers['content-encoding']).toBe('gzip');
      expect(toB?.headers['x-nylas-signature']).toBe(signBody(toB!.body, db.webhook_secret));

      // a paused destination gets nothing
      await api.webhooks.update(db.id, { status: 'pause' });
      const again = await dispatcher.send([note('n4', 'message.created')]);
      expect(again.map((o) => o.destinationId)).toEqual([da.id]);
    } finally {
      dispatcher.close();
    }
  });
});
