/**
 * The acceptance window on the real broker (issue 13, "the window is a boundary"), with windows short
 * enough to wait out: a delivery posted again after its state expired is dead-lettered BEYOND_WINDOW
 * instead of being emitted a second time; `redrive` counts it and leaves it unless --beyond-window, and
 * redriving it twice with the override emits it once; `replay` counts what lies beyond the window and
 * refuses to execute unless --beyond-window.
 */
import { DLQ_HEADERS } from '../../../processors/dead-letter';
import { WINDOW_OVERRIDE_HEADER } from '../../../processors/stages/window';
import { runCli } from '../../helpers/cli';
import { headerString, pollUntil } from '../../helpers/kafka';
import { byNotification, ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, rawMessage } from '../../helpers/raw-notifications';

// The state forgets after 25 s; ACCEPT_WINDOW is its default, 5/6 of that: envelope times up to ~21 s
// old are accepted. The CLI reads the same variables.
const WINDOWS = { DEDUPE_WINDOW: '25s' };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the acceptance window (real broker)', () => {
  const h = new ProcessorHarness({ env: WINDOWS });
  beforeAll(() => h.setUp());
  afterAll(() => h.tearDown());

  const cli = (args: string[]) => runCli(args, { ...h.env, LOG_LEVEL: 'silent' });
  const groupEmpty = () =>
    pollUntil(
      async () => ((await h.admin.describeGroups([h.config.groupId])).groups[0]?.members.length ?? 0) === 0,
      { description: 'the processor group to be empty' },
    );

  it('refuses a delivery that comes back after its state expired; redrive and replay count and refuse it', async () => {
    const events = await h.collect([h.topics.emailMessages]);
    const dlq = await h.collect([h.topics.dlq]);
    const processor = await h.startProcessor();
    const id = 'n-window-1';
    // Captured once, posted twice: same signed bytes, so the same envelope `time`.
    const delivery = rawMessage({
      grantId: 'grant-w',
      body: messageNotification('grant-w', { id, messageId: 'm-w', time: Math.floor(Date.now() / 1000) }),
    });
    await h.produce([delivery]);
    await events.waitFor(1);

    // Past DEDUPE_WINDOW the processor has forgotten the id; the window must refuse the re-post.
    await sleep(26_000);
    await h.produce([{ ...delivery, headers: { ...delivery.headers, 'received-at': String(Date.now()) } }]);
    const [dead] = await dlq.waitFor(1);
    expect(headerString(dead?.headers ?? {}, DLQ_HEADERS.reason)).toBe('BEYOND_WINDOW');
    expect(headerString(dead?.headers ?? {}, DLQ_HEADERS.stage)).toBe('window');
    expect(byNotification(events.records, id)).toHaveLength(1);

    // redrive without the flag: counted, refused, nothing written.
    const plain = await cli(['redrive', '--execute']);
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toContain('1 of them lie beyond');
    expect(plain.stdout).toContain('wrote 0 record(s)');

    // With --beyond-window, twice: the override lets it through once; the second copy is a duplicate.
    for (let i = 0; i < 2; i++) {
      const forced = await cli(['redrive', '--beyond-window', '--execute']);
      expect(forced.exitCode).toBe(0);
      expect(forced.stdout).toContain('wrote 1 record(s)');
    }
    await pollUntil(async () => {
      const [t] = await h.admin.fetchOffsets({ groupId: h.config.groupId, topics: [h.topics.raw] });
      const [end] = await h.admin.fetchTopicOffsets(h.topics.raw);
      return t?.partitions[0]?.offset === end?.high;
    });
    expect(byNotification(events.records, id)).toHaveLength(2);
    expect(dlq.records).toHaveLength(1);
    const emitted = byNotification(events.records, id)[1];
    expect(headerString(emitted?.headers ?? {}, 'nylas-notification-id')).toBe(id);

    // replay to the earliest offset: all four raw records are now older than ACCEPT_WINDOW (the two
    // redriven ones measured from their override); the plan counts them and --execute refuses.
    await processor.stop();
    await groupEmpty();
    await sleep(22_000);
    const refused = await cli(['replay', '--group', h.config.groupId, '--to-earliest', '--execute']);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stdout).toContain('total: 4 record(s) to reprocess (4 beyond the acceptance window)');
    expect(refused.stderr).toContain('add --beyond-window to replay anyway');
    const [still] = await h.admin.fetchOffsets({ groupId: h.config.groupId, topics: [h.topics.raw] });
    expect(still?.partitions[0]?.offset).toBe('4');

    const allowed = await cli([
      'replay',
      '--group',
      h.config.groupId,
      '--to-earliest',
      '--beyond-window',
      '--execute',
    ]);
    expect(allowed.exitCode).toBe(0);
    // The processor dead-letters the four (nothing more is emitted), the override headers kept on the two.
    await h.startProcessor();
    const after = await dlq.waitFor(5);
    await sleep(2000);
    expect(after.map((r) => headerString(r.headers, DLQ_HEADERS.reason))).toEqual(
      Array(5).fill('BEYOND_WINDOW'),
    );
    expect(after.filter((r) => headerString(r.headers, WINDOW_OVERRIDE_HEADER) !== undefined)).toHaveLength(
      2,
    );
    expect(byNotification(events.records, id)).toHaveLength(2);
  }, 240_000); // two waits past the windows (~48 s) plus five CLI runs
});
