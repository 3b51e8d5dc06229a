import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, SCENARIOS, scaledClock, writeOracleReport } from '../../../../simulator';
import { type ScriptedReceiver, startScriptedReceiver } from '../../../helpers/scripted-webhook-receiver';

let receiver: ScriptedReceiver;
beforeEach(async () => {
  receiver = await startScriptedReceiver();
});
afterEach(async () => {
  await receiver.close();
});

const fast = { clock: scaledClock(100_000) };

describe('scenarios and the oracle report', () => {
  it('burst: the report says exactly what was acknowledged, including drops after 3 attempts', async () => {
    // ids starting with 0 are refused for good (400), ids starting with 1 always get 503 (3 attempts),
    // ids starting with 2 get one 503 and then succeed
    const seen = new Map<string, number>();
    receiver.answerFor = (body) => {
      const id = String(JSON.parse(body.toString()).id);
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      if (id.startsWith('0')) return { status: 400 };
      if (id.startsWith('1')) return { status: 503 };
      if (id.startsWith('2') && n === 1) return { status: 503 };
      return { status: 200 };
    };
    const { report } = await runScenario({
      scenario: 'burst',
      seed: 21,
      grants: 3,
      startTime: 1_723_821_985,
      count: 120,
      sender: { url: receiver.url, secret: 's', concurrency: 4, ...fast },
    });
    const refused = report.notifications.filter((n) => n.id.startsWith('0'));
    const exhausted = report.notifications.filter((n) => n.id.startsWith('1'));
    const retried = report.notifications.filter((n) => n.id.startsWith('2'));
    expect(refused.length * exhausted.length * retried.length).toBeGreaterThan(0);
    expect(report.summary.generated).toBe(120);
    expect(report.summary.acknowledged).toBe(120 - refused.length - exhausted.length);
    expect(report.summary.byReason).toEqual({
      delivered: 120 - refused.length - exhausted.length,
      non_retriable_status: refused.length,
      retries_exhausted: exhausted.length,
    });
    for (const n of refused) expect(n).toMatchObject({ acknowledged: false, attempts: 1 });
    for (const n of exhausted) expect(n).toMatchObject({ acknowledged: false, attempts: 3 });
    for (const n of retried) expect(n).toMatchObject({ acknowledged: true, attempts: 2 });
    expect(report.finalState?.length).toBeGreaterThan(0);
    const ackIds = new Set(report.notifications.filter((n) => n.acknowledged).map((n) => n.id));
    expect(report.expectedLatest.length).toBeGreaterThan(0);
    expect(report.expectedLatest.every((e) => ackIds.has(e.notificationId))).toBe(true);
  });

  it('burst with an always-failing receiver: nothing acknowledged, every notification tried 3 times', async () => {
    receiver.fallback = { status: 502 };
    const { report } = await runScenario({
      scenario: 'burst',
      seed: 2,
      grants: 2,
      count: 10,
      sender: { url: receiver.url, secret: 's', health: false, ...fast },
    });
    expect(report.summary).toMatchObject({ generated: 10, acknowledged: 0, attempts: 30 });
    expect(report.summary.byReason).toEqual({ retries_exhausted: 10 });
    expect(report.expectedLatest).toEqual([]);
  });

  it('grant-expiry: held changes, backfill within 72 h, none after (§7)', async () => {
    const { report, world } = await runScenario({
      scenario: 'grant-expiry',
      seed: 5,
      grants: 3,
      count: 40,
      generator: { weights: { 'grant.expired': 0, 'grant.updated': 0 } },
      sender: { url: receiver.url, secret: 's', ...fast },
    });
    const [a, b] = world.grantIds as [string, string];
    const types = (g: string) =>
      report.notifications.filter((n) => n.grantId === g).map((n) => n.type.split('.').slice(0, 2).join('.'));
    expect(types(a)[0]).toBe('grant.expired');
    // while invalid, grant A only produced message.opened notifications (the §7 exception)
    const aNotes = report.notifications.filter((n) => n.grantId === a);
    const reauthIdx = aNotes.findIndex((n) => n.type === 'grant.updated');
    expect(aNotes.slice(1, reauthIdx).every((n) => n.type.startsWith('message.opened'))).toBe(true);
    expect(aNotes.slice(reauthIdx + 1).some((n) => n.backfill)).toBe(true);
    const bNotes = report.notifications.filter((n) => n.grantId === b);
    const bReauth = bNotes.findIndex((n) => n.type === 'grant.updated');
    expect(bNotes.slice(0, bReauth + 1).map((n) => n.type)).toEqual(['grant.expired', 'grant.updated']);
    expect(bNotes.some((n) => n.backfill)).toBe(false);
    // the messages created for B during the outage exist in the world (the API serves them) but were never notified
    const bMessages = world.finalState({ kinds: ['messages'] }).filter((s) => s.grantId === b && !s.deleted);
    const notified = new Set(report.notifications.filter((n) => n.grantId === b).map((n) => n.objectId));
    expect(bMessages.filter((m) => !notified.has(m.id)).length).toBeGreaterThanOrEqual(5);
    expect(report.summary.backfill).toBeGreaterThan(0);
  });

  it('large-messages: every grant gets a truncated message', async () => {
    const { report } = await runScenario({
      scenario: 'large-messages',
      seed: 3,
      grants: 2,
      count: 4,
      sender: { url: receiver.url, secret: 's', ...fast },
    });
    expect(report.summary.truncated).toBeGreaterThanOrEqual(2);
    expect(receiver.received.every((r) => r.body.length < 1_000_000)).toBe(true);
  });

  it('every scenario runs; the report is JSON', async () => {
    const file = join(tmpdir(), `oracle-${process.pid}.json`);
    try {
      for (const name of Object.keys(SCENARIOS)) {
        const { report } = await runScenario({
          scenario: name,
          seed: 8,
          grants: 3,
          count: 45,
          sender: { url: receiver.url, secret: 's', ...fast },
          includeFinalState: false,
        });
        expect(report.summary.generated).toBeGreaterThan(0);
        expect(report.summary.acknowledged).toBe(report.summary.generated);
        await writeOracleReport(file, report);
        expect(JSON.parse(await readFile(file, 'utf8')).summary.generated).toBe(report.summary.generated);
      }
    } finally {
      await rm(file, { force: true });
    }
  });

  it('refuses an unknown scenario, naming it', async () => {
    await expect(
      runScenario({ scenario: 'nope', count: 1, sender: { url: receiver.url, secret: 's' } }),
    ).rejects.toThrow(/unknown scenario "nope"/);
  });
});
