/**
 * A burst of large truncated messages against a processor whose heap is capped: the expansion budget
 * (EXPANSION_MAX_HELD_BYTES, processors/expansion-budget.ts) keeps the bodies it holds at once under the
 * cap, so the process neither dies nor gets stuck, and every message is emitted with its whole body.
 *
 * Why a child process with a real heap limit: what the budget prevents is V8 stopping the process (past
 * `--max-old-space-size` it aborts), after which the restarted processor takes the same records and dies
 * again. Only a real limit shows it. The round waits 3 s for its expansions here, so the bodies the API
 * returns meanwhile are all held at once unless the budget holds calls back. Measured when the test was
 * written (Node 20, `--trace-gc`): the main heap held at most 140 MB after a full collection with the
 * budget; without it (EXPANSION_TEST_MAX_HELD=1073741824) it reached 236 MB and V8 stopped the child.
 */
import { readFileSync } from 'node:fs';
import type { Message } from 'kafkajs';
import { SERVICE_NODE_FLAGS } from '../../../lib/service-runtime';
import { headerString, pollUntil, uniqueName } from '../../helpers/kafka';
import { exited, processorChildren } from '../../helpers/processor-child';
import { decodeDomainEvent, ProcessorHarness } from '../../helpers/processor-harness';
import { messageNotification, messageObject, rawMessage } from '../../helpers/raw-notifications';

/** The child's V8 heap limit (MB): neither burst below fits it at once. */
const HEAP_LIMIT_MB = 224;

/**
 * - A long wait: the round waits for its expansions, and every body the API returns meanwhile is held
 *   (24 MB of heap each; the budget derived from this limit, 24 MiB with 16 MiB reserved per expansion,
 *   lets one run at a time).
 * - Set aside: the round gives up waiting after the default 100 ms and the bodies arrive after it. The
 *   wait must not keep them alive: with Promise.allSettled it did (27 bodies of 8 MB alive in a heap
 *   snapshot; a debug log of the same set-up had the budget at 54-63 MB), and V8 stopped the child; put
 *   back, both bursts fail.
 */
const BURSTS = [
  {
    name: 'bodies arriving while the round waits for them',
    messages: 16,
    bodyChars: 12 * 2 ** 20,
    deferAfter: '3s',
  },
  {
    name: 'bodies arriving after the round set them aside',
    messages: 32,
    bodyChars: 4 * 2 ** 20,
    deferAfter: '100ms',
  },
];

describe.each(BURSTS)('processor: a burst of large truncated messages under a heap limit, $name', (burst) => {
  const MESSAGES = burst.messages;
  const BODY_CHARS = burst.bodyChars;
  const h = new ProcessorHarness({ partitions: 2, grants: 4 });
  const children = processorChildren(h, 'expansion-memory');

  it('emits every message whole, in one process that never restarts', async () => {
    // Every call answers after 300 ms, so the whole burst is in flight at once unless something holds
    // it back (EXPANSION_CONCURRENCY alone would let 16 start).
    h.api.faults.latencyMs = 300;
    const grants = h.world.grantIds;
    const expected = new Map<string, number>();
    const batch: Message[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const g = grants[i % grants.length] as string;
      const mid = uniqueName('big');
      // Distinct text per message; the euro sign (outside Latin-1) makes V8 store the whole body at two
      // bytes per character, the worst case the budget's heap figure allows for.
      const body = `<p>${i} €</p>${String.fromCharCode(97 + (i % 26)).repeat(BODY_CHARS)}`;
      h.world.upsertObject(g, 'messages', messageObject(g, mid, { body }));
      const id = `burst-${i}`;
      expected.set(id, body.length);
      batch.push(
        rawMessage({ grantId: g, body: messageNotification(g, { id, messageId: mid, truncated: true }) }),
      );
    }
    await h.produce(batch);

    const logFile = children.logFile('burst');
    const child = children.start('burst', undefined, {
      // As the image starts it (its young generation too: Node 24 would otherwise grow it to 192 MiB).
      NODE_OPTIONS: [...SERVICE_NODE_FLAGS, `--max-old-space-size=${HEAP_LIMIT_MB}`].join(' '),
      EXPANSION_DEADLINE: '120s',
      // How long the round waits for its expansions before it sets aside what is still pending.
      EXPANSION_DEFER_AFTER: burst.deferAfter,
      EXPANSION_REQUEST_TIMEOUT: '30s',
      ...(process.env.EXPANSION_TEST_MAX_HELD
        ? { EXPANSION_MAX_HELD_BYTES: process.env.EXPANSION_TEST_MAX_HELD }
        : {}),
    });
    const died = exited(child).then(({ code, signal }) => {
      throw new Error(`the processor exited (code ${code}, signal ${signal}); its log: ${logFile}`);
    });
    died.catch(() => undefined);
    await Promise.race([
      died,
      pollUntil(
        () => {
          const seen = new Set(
            children.out().records.map((r) => headerString(r.headers, 'nylas-notification-id')),
          );
          return [...expected.keys()].every((id) => seen.has(id));
        },
        { timeoutMs: 240_000, description: `all ${MESSAGES} large messages emitted` },
      ),
    ]);
    expect(child.exitCode).toBeNull();

    // Whole: each event carries its body (decoded, not guessed from the record's size).
    for (const r of children.out().records) {
      const id = headerString(r.headers, 'nylas-notification-id') as string;
      const { value } = await decodeDomainEvent(r);
      const body = (value.message as { body?: string } | null)?.body ?? '';
      expect({ id, length: body.length }).toEqual({ id, length: expected.get(id) });
    }
    // Held back, not merely lucky: the log says the heap limit the child ran with.
    const started = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('processor running'));
    expect(started).toBeDefined();
    const { heapLimitMb, metrics } = JSON.parse(started as string) as {
      heapLimitMb: number;
      metrics: string;
    };
    expect(heapLimitMb).toBeLessThanOrEqual(HEAP_LIMIT_MB + 64);
    // Everything committed: the budget holds nothing (a body never released would hold it for good).
    await pollUntil(
      async () => {
        const text = await (await fetch(`${metrics}/metrics`)).text();
        return /^nylas_stream_processor_expansion_held_bytes(\{[^}]*\})? 0$/m.test(text);
      },
      { timeoutMs: 10_000, description: 'the expansion budget empty once all is committed' },
    );
  }, 360_000);
});
