/**
 * `redrive`: which dead letters match, what goes back to the raw topic (exact bytes, ingress headers,
 * no dlq-* headers, original partition) and what gets printed.
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { OpsRefusal } from '../../../cli/ops/errors';
import {
  deadLetterInfo,
  formatRedriveSummary,
  matchesFilter,
  redriveFilterFromOptions,
  redriveMessage,
} from '../../../cli/ops/redrive';
import { deadLetterMessage } from '../../../processors/dead-letter';

const ingressHeaders: IHeaders = {
  'nylas-signature': Buffer.from('ab'.repeat(32)),
  'content-type': Buffer.from('application/json'),
  'nylas-notification-id': Buffer.from('n-1'),
  'nylas-type': Buffer.from('message.created.truncated'),
  'nylas-delivery-attempt': Buffer.from('1'),
  'nylas-destination': Buffer.from('default'),
  'received-at': Buffer.from('1723821986000'),
};
const body = Buffer.from('{"id":"n-1","type":"message.created.truncated"}');

/** A DLQ record exactly as the processor writes it, as a consumer reads it back. */
function dlqRecord(
  reason: 'NYLAS_API_UNAUTHORIZED' | 'MALFORMED_JSON',
  at: number,
  grant = 'grant-1',
): KafkaMessage {
  const m = deadLetterMessage(
    {
      record: {
        topic: 'nylas.webhooks.raw',
        partition: 5,
        offset: '42',
        key: Buffer.from(grant),
        value: body,
        headers: ingressHeaders,
        timestamp: '1723821986000',
      },
      reason,
      code: reason,
      message: 'grant expired',
      stage: 'expand',
      redrivable: reason === 'NYLAS_API_UNAUTHORIZED',
    },
    at,
  );
  const headers: IHeaders = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Buffer.from(String(v));
  return {
    key: m.key as Buffer,
    value: m.value as Buffer,
    headers,
    timestamp: String(at + 5),
    attributes: 0,
    offset: '7',
  } as KafkaMessage;
}

describe('deadLetterInfo and matchesFilter', () => {
  const d = deadLetterInfo(2, dlqRecord('NYLAS_API_UNAUTHORIZED', 1_000_000));
  it('reads the dlq-* headers', () => {
    expect(d).toEqual({
      partition: 2,
      offset: '7',
      grant: 'grant-1',
      reason: 'NYLAS_API_UNAUTHORIZED',
      stage: 'expand',
      redrivable: true,
      deadLetteredAt: 1_000_000,
      notificationId: 'n-1',
      sourceTopic: 'nylas.webhooks.raw',
      sourcePartition: 5,
    });
  });
  it('filters by reason, grant, stage and time range [since, until)', () => {
    expect(matchesFilter(d, { reasons: [] })).toBe(true);
    expect(matchesFilter(d, { reasons: ['MALFORMED_JSON'] })).toBe(false);
    expect(matchesFilter(d, { reasons: ['MALFORMED_JSON', 'NYLAS_API_UNAUTHORIZED'] })).toBe(true);
    expect(matchesFilter(d, { reasons: [], grant: 'grant-2' })).toBe(false);
    expect(matchesFilter(d, { reasons: [], stage: 'decode' })).toBe(false);
    expect(matchesFilter(d, { reasons: [], since: 1_000_000, until: 1_000_001 })).toBe(true);
    expect(matchesFilter(d, { reasons: [], since: 1_000_001 })).toBe(false);
    expect(matchesFilter(d, { reasons: [], until: 1_000_000 })).toBe(false);
  });
});

describe('redriveMessage', () => {
  const m = dlqRecord('NYLAS_API_UNAUTHORIZED', 1_000_000);
  const d = deadLetterInfo(0, m);
  it('keeps key, value bytes and ingress headers, drops dlq-* headers, returns to the source partition', () => {
    const out = redriveMessage(m, d, 'nylas.webhooks.raw', 12);
    expect(out.key).toEqual(Buffer.from('grant-1'));
    expect(Buffer.compare(out.value as Buffer, body)).toBe(0);
    expect(Object.keys(out.headers ?? {}).sort()).toEqual(Object.keys(ingressHeaders).sort());
    expect(out.headers?.['nylas-signature']).toEqual(ingressHeaders['nylas-signature']);
    expect(out.partition).toBe(5);
  });
  it('lets the key choose the partition when writing elsewhere or the partition no longer exists', () => {
    expect(redriveMessage(m, d, 'other.raw', 12).partition).toBeUndefined();
    expect(redriveMessage(m, d, 'nylas.webhooks.raw', 4).partition).toBeUndefined();
  });
});

describe('redriveFilterFromOptions', () => {
  it('merges --reason, --grant, --since/--until and --filter key=value', () => {
    const f = redriveFilterFromOptions({
      filter: ['reason=MALFORMED_JSON,INTERNAL', 'stage=decode', 'until=2026-01-02T00:00:00Z'],
      reason: ['NYLAS_API_UNAUTHORIZED'],
      grant: 'g',
      since: '2026-01-01T00:00:00Z',
    });
    expect(f).toEqual({
      reasons: ['NYLAS_API_UNAUTHORIZED', 'MALFORMED_JSON', 'INTERNAL'],
      grant: 'g',
      stage: 'decode',
      since: Date.UTC(2026, 0, 1),
      until: Date.UTC(2026, 0, 2),
    });
  });
  it('refuses unknown keys and missing values', () => {
    expect(() => redriveFilterFromOptions({ filter: ['colour=red'], reason: [] })).toThrow(OpsRefusal);
    expect(() => redriveFilterFromOptions({ filter: ['reason'], reason: [] })).toThrow(/key=value/);
  });
});

describe('formatRedriveSummary', () => {
  it('counts by reason, says dry run, and lists on request', () => {
    const a = deadLetterInfo(0, dlqRecord('NYLAS_API_UNAUTHORIZED', Date.UTC(2026, 0, 1)));
    const b = deadLetterInfo(1, dlqRecord('MALFORMED_JSON', Date.UTC(2026, 0, 1)));
    const summary = {
      scanned: 3,
      matched: 2,
      written: 0,
      beyondWindow: 0,
      refused: 0,
      byReason: new Map([
        ['NYLAS_API_UNAUTHORIZED', { records: 1, redrivable: 1 }],
        ['MALFORMED_JSON', { records: 1, redrivable: 0 }],
      ]),
      matches: [a, b],
    };
    const opts = {
      from: 'dlq',
      to: 'raw',
      filter: { reasons: [] },
      execute: false,
      window: { acceptWindowMs: 80 * 3_600_000, dedupeWindowMs: 96 * 3_600_000 },
      beyondWindow: false,
    };
    const lines = formatRedriveSummary(opts, summary, true);
    expect(lines[0]).toBe('redrive dlq → raw (dry run)');
    expect(lines[1]).toMatch(
      /^partition\s+offset\s+dead-lettered at\s+reason\s+stage\s+grant\s+notification\s+window$/,
    );
    expect(lines[2]).toMatch(
      /^0\s+7\s+2026-01-01T00:00:00.000Z\s+NYLAS_API_UNAUTHORIZED\s+expand\s+grant-1\s+n-1\s+inside$/,
    );
    expect(lines.slice(4, 7)).toEqual([
      expect.stringMatching(/^reason\s+records\s+redrivable$/),
      expect.stringMatching(/^MALFORMED_JSON\s+1\s+0$/),
      expect.stringMatching(/^NYLAS_API_UNAUTHORIZED\s+1\s+1$/),
    ]);
    expect(lines.at(-2)).toBe('scanned 3 dead letter(s), 2 match the filters');
    expect(lines.at(-1)).toBe('dry run: nothing written; add --execute to put 2 record(s) back on raw');
    expect(formatRedriveSummary({ ...opts, execute: true }, { ...summary, written: 2 }, false).at(-1)).toBe(
      'wrote 2 record(s) to raw',
    );
    // Beyond the window: counted, refused unless --beyond-window, and the dry run's count excludes them.
    const beyond = { ...summary, beyondWindow: 1, refused: 1 };
    const refused = formatRedriveSummary(opts, beyond, false);
    expect(refused.at(-2)).toMatch(/^1 of them lie beyond .*refused, left in the DLQ.*--beyond-window/);
    expect(refused.at(-1)).toBe('dry run: nothing written; add --execute to put 1 record(s) back on raw');
    expect(
      formatRedriveSummary({ ...opts, beyondWindow: true }, { ...beyond, refused: 0 }, false).at(-2),
    ).toMatch(/window-override-at header/);
  });
});
