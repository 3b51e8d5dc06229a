import { classifyTrigger } from '../../../../processors/triggers';
import {
  createWorld,
  type GeneratedNotification,
  NotificationGenerator,
  PreparedNotification,
  signBody,
} from '../../../../simulator';

const START = 1_723_821_985;

function generator(seed = 1, extra: Partial<ConstructorParameters<typeof NotificationGenerator>[0]> = {}) {
  return new NotificationGenerator({ world: createWorld({ seed, grants: 5, startTime: START }), ...extra });
}

describe('NotificationGenerator', () => {
  it('is reproducible: same seed and start time → identical notifications', () => {
    const a = generator(3).take(500);
    const b = generator(3).take(500);
    expect(b.map((n) => JSON.stringify(n.envelope))).toEqual(a.map((n) => JSON.stringify(n.envelope)));
    const c = generator(4).take(50);
    expect(c.map((n) => n.envelope.id)).not.toEqual(a.slice(0, 50).map((n) => n.envelope.id));
  });

  it('builds valid envelopes (§1): unique ids, integer seconds, attempt 1, application id', () => {
    const g = generator();
    const batch = g.take(2000);
    expect(new Set(batch.map((n) => n.envelope.id)).size).toBe(batch.length);
    for (const { envelope } of batch) {
      expect(envelope.specversion).toBe('1.0');
      expect(Number.isInteger(envelope.time) && envelope.time >= START).toBe(true);
      expect(envelope.webhook_delivery_attempt).toBe(1);
      expect(envelope.data.application_id).toBe(g.world.applicationId);
      expect(envelope.source).toMatch(/^\/[a-z/0-9]+$/);
    }
  });

  it('puts grant_id where §1 says: data level for tracking/send/bounce, object level otherwise', () => {
    const batch = generator(2).take(3000);
    for (const n of batch) {
      const base = classifyTrigger(n.envelope.type).baseType;
      const dataLevel = [
        'message.opened',
        'message.link_clicked',
        'thread.replied',
        'message.send_success',
        'message.send_failed',
        'message.bounce_detected',
      ].includes(base);
      if (dataLevel) expect(n.envelope.data.grant_id).toBe(n.grantId);
      else {
        expect(n.envelope.data.grant_id).toBeUndefined();
        expect(n.envelope.data.object?.grant_id).toBe(n.grantId);
      }
    }
    const failed = batch.find((n) => n.envelope.type === 'message.send_failed');
    expect(failed?.envelope.data).toMatchObject({
      reason: expect.any(String),
      error: { type: expect.any(String) },
    });
  });

  it('covers every family, including suffix variants and one the pipeline does not model', () => {
    const types = new Set(
      generator(5, { variants: { cleaned: 0.1, transformed: 0.1, legacy: 0.3, metadataGrants: 0.5 } })
        .take(6000)
        .map((n) => n.envelope.type),
    );
    for (const t of [
      'message.created',
      'message.updated',
      'message.deleted',
      'event.created',
      'event.updated',
      'event.deleted',
      'calendar.updated',
      'contact.updated',
      'contact.deleted',
      'folder.created',
      'message.opened',
      'message.link_clicked',
      'thread.replied',
      'message.send_success',
      'message.send_failed',
      'message.bounce_detected',
      'grant.expired',
      'grant.updated',
      'notetaker.created',
    ])
      expect(types).toContain(t);
    for (const suffix of ['.cleaned', '.transformed', '.legacy'])
      expect([...types].some((t) => t.endsWith(suffix) || t.includes(`${suffix}.`))).toBe(true);
    expect([...types].some((t) => classifyTrigger(t).family === 'unmodeled')).toBe(true);
    expect(types).not.toContain('contact.created'); // §9 #6
  });

  it('events: updated_at never goes back and sequence increases on every update (§5)', () => {
    const last = new Map<string, { updated_at: number; sequence: number }>();
    for (const n of generator(6).take(5000)) {
      const o = n.envelope.data.object;
      if (o?.object !== 'event') continue;
      if (!n.envelope.type.startsWith('event.') || n.envelope.type.startsWith('event.deleted')) continue;
      const prev = last.get(String(o.id));
      if (prev) {
        expect(Number(o.updated_at)).toBeGreaterThanOrEqual(prev.updated_at);
        expect(Number(o.sequence)).toBe(prev.sequence + 1);
      }
      last.set(String(o.id), { updated_at: Number(o.updated_at), sequence: Number(o.sequence) });
    }
    expect(last.size).toBeGreaterThan(10);
  });

  it('messages over 1 MB are sent as .truncated without body; the world keeps them whole (§4.1)', () => {
    const g = generator(7);
    const [n] = g.force('message.created', g.world.grantIds[0], { bodySize: 1_300_000 });
    expect(n?.envelope.type).toBe('message.created.truncated');
    expect(n?.truncated).toBe(true);
    expect(n?.envelope.data.object).not.toHaveProperty('body');
    expect(new PreparedNotification(n!.envelope).bytes).toBeLessThan(1_000_000);
    const stored = g.world.getObject(n!.grantId, 'messages', String(n!.envelope.data.object?.id));
    expect(String(stored?.body).length).toBe(1_300_000);
  });

  it('ordinary traffic includes truncated messages at the configured rate', () => {
    const batch = generator(8, { bodySizes: { largeRate: 0.05 } }).take(3000);
    const truncated = batch.filter((n) => n.truncated);
    expect(truncated.length).toBeGreaterThan(10);
    for (const n of truncated) {
      expect(n.envelope.type.startsWith('message.') && n.envelope.type.endsWith('.truncated')).toBe(true);
      expect(n.envelope.data.object).not.toHaveProperty('body');
    }
    const whole = batch.filter((n) => n.envelope.type === 'message.created');
    expect(whole.every((n) => typeof n.envelope.data.object?.body === 'string')).toBe(true);
  });

  it('an invalid grant gets only message.opened; within 72 h re-auth backfills current state (§7)', () => {
    const g = generator(9, { weights: { 'grant.updated': 0, 'grant.expired': 0 } });
    const grant = g.world.grantIds[0] as string;
    const expired = g.force('grant.expired', grant);
    expect(expired[0]?.envelope).toMatchObject({
      type: 'grant.expired',
      data: { object: { code: 25009, grant_id: grant } },
    });
    expect(g.world.getGrant(grant)?.grant_status).toBe('invalid');
    const held: GeneratedNotification[] = [];
    for (let i = 0; i < 5; i++) held.push(...g.force('message.created', grant));
    held.push(...g.force('event.created', grant));
    expect(held).toHaveLength(0);
    g.advance(3600);
    const reauth = g.force('grant.updated', grant);
    expect(reauth[0]?.envelope.data.object).toMatchObject({ code: 25027, reauthentication_flag: true });
    const backfill = reauth.slice(1);
    expect(backfill).toHaveLength(6);
    expect(backfill.every((n) => n.backfill)).toBe(true);
    expect(backfill.filter((n) => n.envelope.type.startsWith('message.created'))).toHaveLength(5);
  });

  it('grant.expired carries the last successful sync (the expiry time), not the last authentication (§7)', () => {
    const g = generator(13, { weights: { 'grant.updated': 0, 'grant.expired': 0 } });
    const grant = g.world.grantIds[0] as string;
    const authenticatedAt = g.world.getGrant(grant)?.updated_at as number;
    g.advance(90 * 86_400); // authenticated three months ago, syncing ever since
    const [expired] = g.force('grant.expired', grant);
    expect(expired?.envelope.data.object?.grant_updated_at).toBe(g.world.now());
    expect(expired?.envelope.data.object?.grant_updated_at).toBe(expired?.envelope.time);
    expect(expired?.envelope.data.object?.grant_updated_at).not.toBe(authenticatedAt);
    // the Grant's updated_at stays the last authentication until the re-auth stamps it
    expect(g.world.getGrant(grant)?.updated_at).toBe(authenticatedAt);
  });

  it('the 72 hours run from grant_updated_at: one second short backfills, exactly 72 h does not (§7)', () => {
    const reauthAfter = (seconds: number): string[] => {
      const g = generator(14, { weights: { 'grant.updated': 0, 'grant.expired': 0 } });
      const grant = g.world.grantIds[0] as string;
      g.advance(30 * 86_400);
      const [expired] = g.force('grant.expired', grant);
      const lastSync = Number(expired?.envelope.data.object?.grant_updated_at);
      g.force('message.created', grant);
      g.advance(lastSync + seconds - g.world.now());
      const reauth = g.force('grant.updated', grant);
      expect(reauth[0]?.envelope.time).toBe(lastSync + seconds);
      expect(g.world.getGrant(grant)?.updated_at).toBe(lastSync + seconds);
      return reauth.map((n) => (n.backfill ? `backfill:${n.baseType}` : n.baseType));
    };
    expect(reauthAfter(72 * 3600 - 1)).toEqual(['grant.updated', 'backfill:message.created']);
    expect(reauthAfter(72 * 3600)).toEqual(['grant.updated']);
  });

  it('after more than 72 hours there is no backfill (§7)', () => {
    const g = generator(10);
    const grant = g.world.grantIds[1] as string;
    g.force('grant.expired', grant);
    g.force('message.created', grant);
    g.advance(73 * 3600);
    const reauth = g.force('grant.updated', grant);
    expect(reauth.map((n) => n.envelope.type)).toEqual(['grant.updated']);
    expect(g.world.getGrant(grant)?.grant_status).toBe('valid');
  });

  // How fast is the bench's business (the ingress scenario prepares its bursts this way), not a unit
  // test's: a timed assertion here only measures how loaded the machine is.
  it('prepares and signs 20 000 notifications of about 2 KB', () => {
    const g = generator(11, { bodySizes: { typicalSize: 1500, mediumRate: 0, largeRate: 0 } });
    const batch = g.take(20_000);
    let bytes = 0;
    for (const n of batch) {
      const p = new PreparedNotification(n.envelope);
      bytes += p.signedFor(1, 'secret').body.length;
    }
    expect(bytes / batch.length).toBeGreaterThan(1000);
    const sample = batch[0] as GeneratedNotification;
    expect(new PreparedNotification(sample.envelope).signedFor(2, 'k').signature).toBe(
      signBody(new PreparedNotification(sample.envelope).bodyFor(2), 'k'),
    );
  });
});

describe('two generators on one world', () => {
  it('never reuse notification ids', () => {
    const world = createWorld({ seed: 12, grants: 2, startTime: START });
    const a = new NotificationGenerator({ world }).take(200);
    const b = new NotificationGenerator({ world }).take(200);
    const ids = new Set([...a, ...b].map((n) => n.envelope.id));
    expect(ids.size).toBe(400);
  });
});
