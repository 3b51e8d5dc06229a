/**
 * Reconciliation across a crash: a grant's contacts are listed whole over several pages under 429s, the
 * processor is killed (kill -9) in the middle of that listing, and the next one resumes it. At the end
 * exactly the known contacts deleted while the grant was expired are emitted as deleted (origin
 * BACKFILL) and no live contact is; the ids of every page, those read before the kill included (restored
 * from the backfill topic), are tombstoned once the backfill completes. Real broker, registry and the
 * simulator's API; the processors are child processes (test/helpers/processor-child.ts).
 *
 * Why a lost page would not show as a wrong delete here: the processor has emitted the page's contacts
 * (origin BACKFILL) long before the reconciliation, which refreshes their known-objects records past the
 * listing's start, and the order stage drops a backfill delete over them. The pages make the deletes
 * exact when the processor lags behind; here their restore shows in their tombstones.
 */
import type { ChildProcess } from 'node:child_process';
import { NotificationGenerator } from '../../../simulator';
import { latestGrantState, listCallsOf, rateLimitLists } from '../../helpers/backfill';
import { pollUntil } from '../../helpers/kafka';
import { exited, processorChildren } from '../../helpers/processor-child';
import { decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { envelope, rawMessage } from '../../helpers/raw-notifications';

const DAY = 86_400;
const CONTACTS = 120;
const PAGE = 20;
const DELETED_IN_GAP = 5;

describe('backfill reconciliation: a whole contacts listing, the processor killed in the middle of it', () => {
  const h = new ProcessorHarness({
    partitions: 1,
    grants: 1,
    worldStart: Math.floor(Date.now() / 1000) - 7 * DAY,
    initialObjects: { contacts: CONTACTS },
    env: { DEDUPE_WINDOW: '10d', ACCEPT_WINDOW: '9d', BACKFILL_PAGE_SIZE: String(PAGE) },
  });
  const children = processorChildren(h, 'backfill-reconcile');

  it('deletes exactly the known contacts the re-listing misses, with the pages read before the kill restored', async () => {
    const [grant] = h.world.grantIds as [string];
    const contactsTopic = await h.collect([h.topics.contacts], 'read_committed');
    const backfillTopic = await h.collect([h.topics.backfill], 'read_committed');
    const generator = new NotificationGenerator({ world: h.world, variants: { metadataGrants: 0 } });
    const listCalls = () => listCallsOf(h, grant);
    const contactPages = () => listCalls().filter((r) => r.path.endsWith('/contacts') && r.status === 200);

    const first: ChildProcess = children.start('first');
    const firstDied = exited(first);
    // Downstream knows every contact: each one sent live before the expiry.
    const ids = h.world.liveIds(grant, 'contacts');
    expect(ids.length).toBe(CONTACTS);
    await h.produce(
      h.world.listObjects(grant, 'contacts', { withBodies: false }).map((o, i) =>
        rawMessage({
          grantId: grant,
          body: envelope({ type: 'contact.updated', id: `live-${i}`, time: h.world.now(), object: o }),
        }),
      ),
    );
    await pollUntil(() => contactsTopic.records.length >= CONTACTS, {
      timeoutMs: 120_000,
      description: 'every contact emitted live',
    });

    // The grant expires; five days later it is re-authenticated (beyond 72 h: a backfill). Meanwhile
    // five known contacts are deleted, which Nylas never tells.
    const toSend = (out: ReturnType<NotificationGenerator['force']>) =>
      h.produce(out.map((n) => rawMessage({ grantId: n.grantId, body: n.envelope as never })));
    generator.advance(600);
    await toSend(generator.force('grant.expired', grant));
    generator.advance(2 * DAY);
    const deleted = [ids[3], ids[40], ids[41], ids[77], ids[CONTACTS - 1]] as string[];
    for (const id of deleted) h.world.deleteObject(grant, 'contacts', id);
    generator.advance(3 * DAY);

    // Rate limiting throughout: after every answered list call of the grant, a 429 (Retry-After: 1), so
    // each page takes a second and the kill lands inside the contacts listing.
    const stopLimiting = rateLimitLists(h, grant, 1);
    const reauth = generator.force('grant.updated', grant);
    expect(reauth.length).toBe(1);
    await toSend(reauth);

    await pollUntil(() => contactPages().length >= 2, {
      timeoutMs: 180_000,
      description: 'two pages of contacts',
    });
    first.kill('SIGKILL');
    expect(await firstDied).toEqual({ code: null, signal: 'SIGKILL' });
    const callsBeforeKill = listCalls().length;
    const pagesBeforeKill = contactPages().length;
    expect(pagesBeforeKill).toBeLessThan(Math.ceil((CONTACTS - DELETED_IN_GAP) / PAGE));

    children.start('second');
    const state = () => latestGrantState(backfillTopic, grant);
    await pollUntil(() => state()?.last?.outcome === 'completed', {
      timeoutMs: 300_000,
      intervalMs: 500,
      description: 'the backfill completed',
    });
    stopLimiting();
    // It resumed inside the contacts listing, with the committed page token.
    const resumed = listCalls()[callsBeforeKill];
    expect(resumed?.path.endsWith('/contacts')).toBe(true);
    expect(resumed?.query.page_token).toBeDefined();
    expect(state()?.last?.deleted).toBe(DELETED_IN_GAP);

    // Every contact's last event: deleted for the five, by the backfill; the live state for the others.
    const wanted = new Map(
      ids.map((id) => [id, deleted.includes(id) ? 'contact.deleted' : 'contact.updated']),
    );
    let last = new Map<string, Record<string, unknown>>();
    const eventIds = new Map<string, number>();
    await pollUntil(
      async () => {
        last = new Map();
        eventIds.clear();
        for (const e of await Promise.all(contactsTopic.records.map(decodeDomainEvent))) {
          last.set(String(e.value.object_id), e.value);
          eventIds.set(String(e.value.event_id), (eventIds.get(String(e.value.event_id)) ?? 0) + 1);
        }
        const off = [...wanted].filter(([id, type]) => last.get(id)?.event_type !== type);
        if (off.length > 0)
          throw new Error(
            `${off.length} contacts not at their final state, e.g. ${off
              .slice(0, 3)
              .map(([id, type]) => `${id}: want ${type}, last ${String(last.get(id)?.event_type)}`)
              .join('; ')}`,
          );
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 500, description: 'every contact at its final state' },
    );
    for (const id of deleted) expect(last.get(id)?.origin).toBe('BACKFILL');
    // The ids of every page of the whole listings, those read before the kill included, were kept on the
    // backfill topic until the backfill completed, then tombstoned: nothing of them stays behind.
    const listed = new Map<string, Buffer | null>();
    for (const r of backfillTopic.records) {
      const key = String(r.key);
      if (key.startsWith(JSON.stringify(['listed', grant]).slice(0, -1))) listed.set(key, r.value);
    }
    const contactKeys = [...listed.keys()].filter((k) => k.includes('"contacts"'));
    expect(contactKeys.length).toBe(Math.ceil((CONTACTS - DELETED_IN_GAP) / PAGE));
    expect([...listed.entries()].filter(([, v]) => v !== null).map(([k]) => k)).toEqual([]);
    expect([...eventIds.entries()].filter(([, n]) => n > 1)).toEqual([]);
    console.log(
      `reconciliation across kill -9: ${CONTACTS} known contacts listed ${PAGE} a page, killed after ` +
        `${pagesBeforeKill} pages; ${DELETED_IN_GAP} deleted in the gap emitted as deleted, ` +
        `${CONTACTS - DELETED_IN_GAP} live left alone; ${listCalls().length} list calls`,
    );
  }, 900_000);
});
