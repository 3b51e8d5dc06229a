/**
 * normalize, family by family, with the contract's example payloads (docs/nylas-contract.md §3).
 * Every produced value is checked against its schema with avsc; a failure names the field path.
 */
import { loadTopicsConfig } from '../../../../lib/config';
import { BadInputError, type NylasStreamError } from '../../../../lib/errors';
import { domainEventId, normalize } from '../../../../processors/stages/normalize';
import type { DomainEvent, Notification, NylasEnvelope } from '../../../../processors/types';
import { invalidPaths, schemaByName } from '../../../../schemas';
import type { DomainEventValues } from '../../../../schemas/generated/types';
import * as fx from '../../schemas/fixtures/notifications';

const topics = loadTopicsConfig({});

/** normalize + the schema check this suite insists on, reporting paths instead of a bare `false`. */
function run(n: Notification, t = topics): DomainEvent {
  const e = normalize(n, t);
  const s = schemaByName(e.schema);
  expect({ schema: e.schema, invalid: invalidPaths(s, e.value) }).toEqual({ schema: e.schema, invalid: [] });
  expect(s.type.isValid(e.value)).toBe(true);
  return e;
}

function value<K extends keyof DomainEventValues>(e: DomainEvent, _schema: K): DomainEventValues[K] {
  expect(e.schema).toBe(_schema);
  return e.value as unknown as DomainEventValues[K];
}

function expectNormalizeFailure(n: Notification, message: RegExp): void {
  let caught: unknown;
  try {
    normalize(n, topics);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BadInputError);
  expect((caught as NylasStreamError).code).toBe('NORMALIZE_FAILED');
  expect((caught as NylasStreamError).retriable).toBe(false);
  expect((caught as Error).message).toMatch(message);
}

describe('common fields, key, topic and headers', () => {
  const overrides = { version: 1723821985n, receivedAt: 1723821986123 };
  const n = fx.notificationFrom(fx.messageCreated(), overrides);
  const e = run(n);

  it('routes to the topic of the family, keyed by grant id', () => {
    expect(e.topic).toBe('nylas.email.messages');
    expect(e.key).toBe(fx.GRANT);
    expect(e.schema).toBe('messages');
  });

  it('carries every common field, timestamps as epoch ms', () => {
    expect(e.value).toMatchObject({
      event_type: 'message.created',
      nylas_type: 'message.created',
      grant_id: fx.GRANT,
      application_id: fx.APP,
      object_id: '1915a2b3c4d5e6f7',
      object_version: 1723821985,
      occurred_at: 1723821985000,
      received_at: 1723821986123,
      nylas_notification_id: '3f9a2c10-5d1e-4b8a-9f0e-2b7c4d6e8a01',
      nylas_source: '/google/emails/realtime',
      expanded: false,
      origin: 'LIVE',
    });
  });

  it('says where the event came from: LIVE from a webhook delivery, BACKFILL from a backfill list call', () => {
    expect(e.value.origin).toBe('LIVE');
    const backfilled = run(fx.notificationFrom(fx.messageCreated(), { ...overrides, origin: 'backfill' }));
    expect(backfilled.value.origin).toBe('BACKFILL');
    // Only the origin tells them apart: the id, version, key and headers come from the notification alone.
    expect({ ...backfilled, value: { ...backfilled.value, origin: 'LIVE' } }).toEqual(e);
  });

  it('derives the event id from the notification: a replay re-emits the same id; another notification differs', () => {
    const again = normalize(
      fx.notificationFrom(fx.messageCreated(), { offset: '999', receivedAt: 1 }),
      topics,
    );
    expect(again.value.event_id).toBe(e.value.event_id);
    expect(e.value.event_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(e.value.event_id).toBe(domainEventId('3f9a2c10-5d1e-4b8a-9f0e-2b7c4d6e8a01', 'message.created'));
    const other = normalize(fx.notificationFrom(fx.messageDeleted()), topics);
    expect(other.value.event_id).not.toBe(e.value.event_id);
  });

  it('is pure: the same input gives an identical event, and the input is not modified', () => {
    const env = fx.messageCreated();
    const before = JSON.stringify(env);
    const a = normalize(fx.notificationFrom(env), topics);
    const b = normalize(fx.notificationFrom(env), topics);
    expect(a).toEqual(b);
    expect(JSON.stringify(env)).toBe(before);
  });

  it('sets the event type and lineage headers; what the Avro value holds is not repeated', () => {
    expect(e.headers).toEqual({
      'event-type': 'message.created',
      'nylas-notification-id': '3f9a2c10-5d1e-4b8a-9f0e-2b7c4d6e8a01',
      'source-topic': 'nylas.webhooks.raw',
      'source-partition': '3',
      'source-offset': '42',
    });
    expect(e.value).toMatchObject({
      event_id: expect.any(String),
      nylas_notification_id: '3f9a2c10-5d1e-4b8a-9f0e-2b7c4d6e8a01',
      nylas_type: 'message.created',
      received_at: 1723821986123,
    });
  });

  it('honours TOPIC_* overrides', () => {
    const custom = loadTopicsConfig({ TOPIC_EMAIL_MESSAGES: 'acme.mail' });
    expect(run(n, custom).topic).toBe('acme.mail');
  });

  it('puts the bigint version in the event and rejects one that does not fit', () => {
    expect(run(fx.notificationFrom(fx.messageCreated(), { version: 7n })).value.object_version).toBe(7);
    expectNormalizeFailure(
      fx.notificationFrom(fx.messageCreated(), { version: 2n ** 63n - 1n }),
      /object version/,
    );
  });
});

describe('messages', () => {
  it('message.created: the full message', () => {
    const v = value(run(fx.notificationFrom(fx.messageCreated())), 'messages');
    expect(v.action).toBe('CREATED');
    expect(v).toMatchObject({
      body_truncated: false,
      cleaned: false,
      metadata_only: false,
      transformed: false,
    });
    expect(v.message).toEqual({
      id: '1915a2b3c4d5e6f7',
      thread_id: '1915a2b3c4d5e6f0',
      subject: 'Q3 planning notes',
      from: [{ name: 'Leyah Miller', email: 'leyah@example.com' }],
      to: [{ name: 'Nyla', email: 'nyla@example.com' }],
      cc: [{ name: null, email: 'kaveh@example.com' }],
      bcc: [],
      reply_to: [],
      date: 1723821981000,
      body: '<div dir="ltr">Notes attached.</div>\r\n',
      snippet: 'Notes attached.',
      starred: false,
      unread: true,
      folders: ['INBOX', 'UNREAD'],
      attachments: [
        {
          id: 'v0:bm90ZXMucGRm:YXBwbGljYXRpb24vcGRm:48213',
          filename: 'notes.pdf',
          content_type: 'application/pdf; name="notes.pdf"',
          size: 48213,
          is_inline: false,
          content_id: null,
          content_disposition: 'attachment; filename="notes.pdf"',
        },
      ],
      headers: null,
      metadata: {},
      cleaning_status: null,
    });
  });

  it('message.updated (read and starred)', () => {
    const env = fx.messageCreated('message.updated');
    Object.assign(env.data.object as object, { unread: false, starred: true });
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.action).toBe('UPDATED');
    expect(v.event_type).toBe('message.updated');
    expect(v.message).toMatchObject({ unread: false, starred: true });
  });

  it.each([
    'message.created.truncated',
    'message.updated.truncated',
    'message.created.cleaned.truncated',
    'message.created.cleaned.transformed.truncated',
  ])('%s not expanded: routed by prefix, body null, body_truncated', (type) => {
    const v = value(run(fx.notificationFrom(fx.messageTruncated(type))), 'messages');
    expect(v.event_type).toBe(type.startsWith('message.created') ? 'message.created' : 'message.updated');
    expect(v.nylas_type).toBe(type);
    expect(v.body_truncated).toBe(true);
    expect(v.expanded).toBe(false);
    expect(v.message?.body).toBeNull();
    expect(v.message?.subject).toBe('Q3 planning notes');
  });

  it('truncated then expanded: the fetched full message, expanded=true, body present', () => {
    const env = fx.messageTruncated('message.created.truncated');
    // What the expand stage does: replace data.object with the fetched message.
    env.data.object = { ...fx.messageObject(), body: '<p>the whole 2 MB body</p>' };
    const v = value(run(fx.notificationFrom(env, { expanded: true })), 'messages');
    expect(v.expanded).toBe(true);
    expect(v.body_truncated).toBe(false);
    expect(v.message?.body).toBe('<p>the whole 2 MB body</p>');
    expect(v.action).toBe('CREATED');
  });

  it('gone on expand (404): emitted as deleted with no message', () => {
    const v = value(
      run(fx.notificationFrom(fx.messageTruncated('message.updated.truncated'), { goneOnExpand: true })),
      'messages',
    );
    expect(v.action).toBe('DELETED');
    expect(v.event_type).toBe('message.deleted');
    expect(v.nylas_type).toBe('message.updated.truncated');
    expect(v.object_id).toBe('1915a2b3c4d5e6f7');
    expect(v.message).toBeNull();
    expect(v.body_truncated).toBe(false);
  });

  it('message.deleted: only the id', () => {
    const v = value(run(fx.notificationFrom(fx.messageDeleted())), 'messages');
    expect(v.action).toBe('DELETED');
    expect(v.message).toMatchObject({ id: '1915a2b3c4d5e6f7', subject: null, from: null, body: null });
  });

  it('message.deleted with a null object is still a delete', () => {
    const env = fx.messageDeleted();
    env.data.object = null;
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.action).toBe('DELETED');
    expect(v.message).toBeNull();
  });

  it('message.created.cleaned: cleaned flag and cleaning_status', () => {
    const env = fx.messageCreated('message.created.cleaned');
    Object.assign(env.data.object as object, { body: '# Notes attached.', cleaning_status: 'success' });
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.cleaned).toBe(true);
    expect(v.message?.cleaning_status).toBe('SUCCESS');
    expect(v.message?.body).toBe('# Notes attached.');
  });

  it('message.updated.metadata: no body/snippet/attachments, headers instead', () => {
    const env = fx.messageCreated('message.updated.metadata');
    const o = env.data.object as Record<string, unknown>;
    delete o.body;
    delete o.snippet;
    delete o.attachments;
    o.headers = [
      { name: 'Message-ID', value: '<abc@mail.gmail.com>' },
      { name: 'X-Empty', value: null },
      { value: 'nameless' },
    ];
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.metadata_only).toBe(true);
    expect(v.message).toMatchObject({ body: null, snippet: null, attachments: null });
    expect(v.message?.headers).toEqual([
      { name: 'Message-ID', value: '<abc@mail.gmail.com>' },
      { name: 'X-Empty', value: '' },
    ]);
  });

  it('message.created.transformed: customization left only the id fields', () => {
    const env = fx.messageCreated('message.created.transformed');
    env.data.object = {
      id: 'm-1',
      grant_id: fx.GRANT,
      application_id: fx.APP,
      basic_headers: [{ name: 'In-Reply-To', value: '<x>' }],
    };
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.transformed).toBe(true);
    expect(v.message).toMatchObject({
      id: 'm-1',
      subject: null,
      folders: null,
      headers: [{ name: 'In-Reply-To', value: '<x>' }],
    });
  });

  it('odd shapes never throw: wrong types, bare-string participants, non-string metadata', () => {
    const env = fx.messageCreated();
    Object.assign(env.data.object as object, {
      subject: 42,
      from: ['plain@example.com', { name: 'No address' }, null],
      to: null,
      date: 'not a date',
      starred: 'yes',
      folders: ['INBOX', 7, null],
      attachments: [{ filename: 'no-id.txt' }, { id: 'a1', size: '12' }],
      metadata: { key1: 'v', n: 3, nested: { a: 1 }, gone: null },
    });
    const v = value(run(fx.notificationFrom(env)), 'messages');
    expect(v.message).toMatchObject({
      subject: '42',
      from: [{ name: null, email: 'plain@example.com' }],
      to: null,
      date: null,
      starred: null,
      folders: ['INBOX', '7'],
      metadata: { key1: 'v', n: '3', nested: '{"a":1}' },
    });
    expect(v.message?.attachments).toEqual([
      {
        id: 'a1',
        filename: null,
        content_type: null,
        size: 12,
        is_inline: null,
        content_id: null,
        content_disposition: null,
      },
    ]);
  });

  it('a create or update without an object is unusable → NORMALIZE_FAILED', () => {
    const env = fx.messageCreated();
    env.data.object = null;
    expectNormalizeFailure(fx.notificationFrom(env), /message\.created .*data\.object is null/);
  });
});

describe('folders', () => {
  it.each(['folder.created', 'folder.updated', 'folder.deleted'])('%s', (type) => {
    const v = value(run(fx.notificationFrom(fx.folderUpdated(type))), 'folders');
    expect(v.action).toBe(type.split('.')[1]!.toUpperCase());
    expect(run(fx.notificationFrom(fx.folderUpdated(type))).topic).toBe('nylas.email.folders');
    expect(v.folder).toEqual({
      id: 'Label_4821',
      name: 'Receipts/2024',
      system_folder: false,
      parent_id: null,
      background_color: null,
      text_color: null,
      child_count: null,
      unread_count: null,
      total_count: null,
      attributes: null,
    });
  });
});

describe('tracking', () => {
  it('message.opened: counters and recents', () => {
    const e = run(fx.notificationFrom(fx.messageOpened()));
    expect(e.topic).toBe('nylas.email.tracking');
    const v = value(e, 'tracking');
    expect(v).toMatchObject({
      action: 'OPENED',
      legacy: false,
      message_id: '18ac281f237c934b',
      label: 'welcome-email',
      sender_app_id: fx.APP,
      tracked_at: 1695480567000,
      open_count: 2,
      last_opened_at: 1695480567000,
      link_clicks: null,
      reply_count: null,
    });
    expect(v.open_recents).toEqual([
      { opened_id: 0, ip: '203.0.113.7', user_agent: 'Mozilla/5.0', timestamp: 1695480410000 },
      { opened_id: 1, ip: '203.0.113.7', user_agent: 'Mozilla/5.0', timestamp: 1695480567000 },
    ]);
  });

  it('message.link_clicked: link counts, link_index string → number', () => {
    const v = value(run(fx.notificationFrom(fx.linkClicked())), 'tracking');
    expect(v.action).toBe('LINK_CLICKED');
    expect(v.link_clicks).toEqual([{ url: 'https://www.example.com', count: 1 }]);
    expect(v.click_recents).toEqual([
      {
        click_id: 0,
        link_index: 0,
        ip: '203.0.113.7',
        user_agent: 'Mozilla/5.0 (X11)',
        timestamp: 1695480422000,
      },
    ]);
  });

  it('thread.replied: the tracked message, the reply and the count', () => {
    const v = value(run(fx.notificationFrom(fx.threadReplied())), 'tracking');
    expect(v).toMatchObject({
      action: 'REPLIED',
      message_id: '18ac281f237c934b',
      reply_message_id: '18ad1c9e0f2b3a44',
      root_message_id: '18ac281f237c934b',
      thread_id: '18ac281f237c934b',
      reply_count: 1,
      from_self: false,
      label: 'onboarding-followup',
    });
  });

  it('message.opened.legacy: v2 deltas carried, nullable fields tolerated', () => {
    const v = value(run(fx.notificationFrom(fx.openedLegacy())), 'tracking');
    expect(v).toMatchObject({
      action: 'OPENED',
      legacy: true,
      message_id: '18ac281f237c934b',
      open_count: 3,
    });
    expect(v.legacy_deltas).toHaveLength(1);
    expect(v.legacy_deltas?.[0]).toMatchObject({
      date: 1695480567000,
      object: 'metadata',
      type: 'message.opened',
    });
    expect(JSON.parse(v.legacy_deltas?.[0]?.object_data_json ?? 'null')).toMatchObject({
      account_id: null,
      id: 'md-1',
    });
  });

  it.each(['message.link_clicked.legacy', 'thread.replied.legacy'])('%s with null deltas fields', (type) => {
    const env = fx.openedLegacy();
    env.type = type;
    env.data.object = {
      grant_id: fx.GRANT,
      object: null,
      deltas: [{ date: null, object: null, type: null, object_data: null }],
    };
    const v = value(run(fx.notificationFrom(env)), 'tracking');
    expect(v.legacy).toBe(true);
    expect(v.legacy_deltas).toEqual([{ date: null, object: null, type: null, object_data_json: null }]);
    expect(v.message_id).toBeNull();
  });

  it('a tracking notification without an object is unusable', () => {
    const env = fx.messageOpened();
    env.data.object = null;
    expectNormalizeFailure(fx.notificationFrom(env), /data\.object is null/);
  });
});

describe('delivery', () => {
  it('message.send_failed: the message, the reason and the error', () => {
    const e = run(fx.notificationFrom(fx.sendFailed()));
    expect(e.topic).toBe('nylas.email.delivery');
    const v = value(e, 'delivery');
    expect(v).toMatchObject({
      action: 'SEND_FAILED',
      transactional: false,
      bounce: null,
      details_json: null,
    });
    expect(v.message).toMatchObject({
      id: '1915b0c1d2e3f4a5',
      schedule_id: '8026',
      send_at: 1723899990000,
      to: [{ name: null, email: 'nobody@example.org' }],
    });
    expect(v.failure).toEqual({
      reason: 'Provider rejected the message',
      error_type: 'api.provider_error',
      error_message: 'Mailbox unavailable',
      status_code: 550,
      provider_error_json: '{"code":"550","message":"5.1.1 user unknown"}',
    });
  });

  it('message.send_failed with object null', () => {
    const v = value(run(fx.notificationFrom(fx.sendFailed(false))), 'delivery');
    expect(v.action).toBe('SEND_FAILED');
    expect(v.message).toBeNull();
    expect(v.failure?.reason).toBe('Provider rejected the message');
  });

  it('message.send_success', () => {
    const v = value(run(fx.notificationFrom(fx.sendSuccess())), 'delivery');
    expect(v.action).toBe('SEND_SUCCEEDED');
    expect(v.failure).toBeNull();
    expect(v.message).toMatchObject({ id: '1915b0c1d2e3f4a6', use_draft: true, cc: null });
  });

  it('message.bounce_detected: RFC 2822 dates kept and parsed, addresses split', () => {
    const v = value(run(fx.notificationFrom(fx.bounceDetected())), 'delivery');
    expect(v.action).toBe('BOUNCED');
    expect(v.bounce).toEqual({
      reason: 'The email account that you tried to reach does not exist.',
      bounce_type: 'mailbox_unavailable',
      code: '550',
      bounced_addresses: ['this.address.bounced@example.com'],
      bounce_date: 'Wed, 25 Jan 2023 10:18:39 -0800',
      bounced_at: Date.UTC(2023, 0, 25, 18, 18, 39),
      origin: {
        id: '185e8a8c1d2e3f40',
        mime_id: '<CAFx=abc@mail.gmail.com>',
        subject: 'example-subject',
        from: 'sender@example.com',
        to: ['jdoe@example.com'],
        cc: [],
        bcc: [],
        original_send_at: 'Mon, 16 Sep 2024 16:15:49 +0000',
      },
    });
  });

  it('agent-account message.delivered and message.transactional.bounced: details kept as JSON', () => {
    const d = value(run(fx.notificationFrom(fx.agentDelivered())), 'delivery');
    expect(d).toMatchObject({ action: 'DELIVERED', transactional: false });
    expect(d.message?.id).toBe('agent-msg-1');
    expect(JSON.parse(d.details_json ?? 'null')).toMatchObject({ delivered: { recipient: 'a@example.org' } });
    const t = value(run(fx.notificationFrom(fx.transactionalBounced())), 'delivery');
    expect(t).toMatchObject({ action: 'BOUNCED', transactional: true });
    expect(JSON.parse(t.details_json ?? 'null')).toMatchObject({ domain: 'example.com' });
  });

  it('an unknown deliverability action is UNKNOWN, not an error', () => {
    const env = fx.agentDelivered();
    env.type = 'message.transactional.deferred';
    expect(value(run(fx.notificationFrom(env)), 'delivery').action).toBe('UNKNOWN');
  });
});

describe('events', () => {
  it.each(['event.updated', 'event.created', 'event.updated.transformed'])('%s: the full event', (type) => {
    const e = run(fx.notificationFrom(fx.eventUpdated(type)));
    expect(e.topic).toBe('nylas.calendar.events');
    const v = value(e, 'events');
    expect(v.transformed).toBe(type.endsWith('.transformed'));
    expect(v.event).toMatchObject({
      id: '5tr8kq0p1n9v3b2m7c6x4z1a0s',
      calendar_id: 'nyla@example.com',
      status: 'CONFIRMED',
      visibility: 'DEFAULT',
      organizer: { email: 'nyla@example.com', name: 'Nyla' },
      creator: null,
      participants: [
        {
          email: 'leyah@example.com',
          name: 'Leyah Miller',
          status: 'NOREPLY',
          comment: null,
          phone_number: null,
        },
      ],
      reminders: { use_default: true, overrides: [] },
      resources: [],
      recurrence: ['RRULE:FREQ=WEEKLY;UNTIL=20241219T000000Z;BYDAY=TH'],
      created_at: 1732573232000,
      updated_at: 1732575179000,
      sequence: null,
      when: {
        kind: 'TIMESPAN',
        start_time: 1732809600000,
        end_time: 1732811400000,
        start_timezone: 'America/New_York',
        end_timezone: 'America/New_York',
        start_date: null,
        end_date: null,
        date: null,
        time: null,
        timezone: null,
      },
    });
    expect(v.event?.conferencing).toMatchObject({
      provider: 'Google Meet',
      url: 'https://meet.google.com/abc-defg-hij',
    });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'datespan',
      { object: 'datespan', start_date: '2024-12-05', end_date: '2024-12-06' },
      { kind: 'DATESPAN', start_date: '2024-12-05', end_date: '2024-12-06' },
    ],
    ['date', { object: 'date', date: '2024-12-05' }, { kind: 'DATE', date: '2024-12-05' }],
    [
      'time',
      { object: 'time', time: 1732809600, timezone: 'Europe/Paris' },
      { kind: 'TIME', time: 1732809600000, timezone: 'Europe/Paris' },
    ],
    [
      'no object, inferred',
      { start_time: 1, end_time: 2 },
      { kind: 'TIMESPAN', start_time: 1000, end_time: 2000 },
    ],
    ['a new subtype', { object: 'fortnight' }, { kind: 'UNKNOWN' }],
  ])('when %s', (_label, when, expected) => {
    const env = fx.eventUpdated();
    (env.data.object as Record<string, unknown>).when = when;
    expect(value(run(fx.notificationFrom(env)), 'events').event?.when).toMatchObject(expected);
  });

  it('unknown enum values become UNKNOWN; scheduler metadata strings kept; sequence and overrides read', () => {
    const env = fx.eventUpdated();
    Object.assign(env.data.object as object, {
      status: 'postponed',
      visibility: 'secret',
      participants: [{ email: 'x@example.com', status: 'delegated' }],
      sequence: 3,
      reminders: { use_default: false, overrides: [{ reminder_minutes: 10, reminder_method: 'email' }] },
      metadata: { source: 'scheduler', key5: 'cfg', scheduler_updated_at: '1732575179' },
    });
    const ev = value(run(fx.notificationFrom(env)), 'events').event;
    expect(ev).toMatchObject({ status: 'UNKNOWN', visibility: 'UNKNOWN', sequence: 3 });
    expect(ev?.participants?.[0]?.status).toBe('UNKNOWN');
    expect(ev?.reminders).toEqual({ use_default: false, overrides: [{ minutes: 10, method: 'email' }] });
    expect(ev?.metadata).toEqual({ source: 'scheduler', key5: 'cfg', scheduler_updated_at: '1732575179' });
  });

  it('event.deleted: ids only, master_event_id kept', () => {
    const v = value(run(fx.notificationFrom(fx.eventDeleted())), 'events');
    expect(v.action).toBe('DELETED');
    expect(v.event).toMatchObject({
      id: '5tr8kq0p1n9v3b2m7c6x4z1a0s_20241205T150000Z',
      master_event_id: '5tr8kq0p1n9v3b2m7c6x4z1a0s',
      calendar_id: 'nyla@example.com',
      when: null,
      title: null,
    });
  });
});

describe('calendars', () => {
  it.each(['calendar.created', 'calendar.updated', 'calendar.deleted'])('%s', (type) => {
    const e = run(fx.notificationFrom(fx.calendarCreated(type)));
    expect(e.topic).toBe('nylas.calendar.calendars');
    const v = value(e, 'calendars');
    expect(v.action).toBe(type.split('.')[1]!.toUpperCase());
    expect(v.calendar).toEqual({
      id: 'c_8f2a1b3c4d5e6f70@group.calendar.google.com',
      name: 'Personal',
      description: 'Personal calendar',
      location: 'New York',
      timezone: 'America/New_York',
      is_primary: false,
      read_only: false,
      is_owned_by_user: true,
      owner_email: null,
      hex_color: '#039BE5',
      hex_foreground_color: null,
      metadata: {},
    });
  });
});

describe('contacts', () => {
  it('contact.updated: null arrays stay null, groups flattened', () => {
    const e = run(fx.notificationFrom(fx.contactUpdated()));
    expect(e.topic).toBe('nylas.contacts');
    const v = value(e, 'contacts');
    expect(v.action).toBe('UPDATED');
    expect(v.contact).toMatchObject({
      id: 'people/c4827364518273645',
      given_name: 'John',
      surname: 'Schmidt',
      birthday: '1988-12-31',
      source: 'ADDRESS_BOOK',
      emails: [{ email: 'john.schmidt@example.com', type: 'work' }],
      phone_numbers: [{ number: '+1 415 555 0137', type: 'mobile' }],
      physical_addresses: null,
      web_pages: null,
      im_addresses: null,
      groups: ['myContacts'],
      middle_name: null,
    });
  });

  it('contact.created (CLI-only trigger) is a CREATED contact', () => {
    const env = fx.contactUpdated();
    env.type = 'contact.created';
    expect(value(run(fx.notificationFrom(env)), 'contacts').action).toBe('CREATED');
  });

  it('contact.deleted', () => {
    const v = value(run(fx.notificationFrom(fx.contactDeleted())), 'contacts');
    expect(v.action).toBe('DELETED');
    expect(v.contact).toMatchObject({ id: 'people/c4827364518273645', emails: null, given_name: null });
  });
});

describe('grants', () => {
  it('grant.expired: status record, grant_updated_at in ms', () => {
    const e = run(fx.notificationFrom(fx.grantExpired()));
    expect(e.topic).toBe('nylas.grants');
    expect(e.key).toBe(fx.GRANT);
    const v = value(e, 'grants');
    expect(v.action).toBe('EXPIRED');
    expect(v.grant).toEqual({
      code: 25009,
      integration_id: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      login_id: null,
      provider: 'GOOGLE',
      email: 'nyla@example.com',
      name: null,
      scope: null,
      reauthenticated: null,
      grant_updated_at: 1734200000000,
    });
  });

  it('grant.updated after re-authentication (25027)', () => {
    const v = value(run(fx.notificationFrom(fx.grantReauthenticated())), 'grants');
    expect(v.action).toBe('UPDATED');
    expect(v.grant).toMatchObject({ code: 25027, reauthenticated: true });
    const env = fx.grantReauthenticated();
    delete (env.data.object as Record<string, unknown>).reauthentication_flag;
    expect(value(run(fx.notificationFrom(env)), 'grants').grant?.reauthenticated).toBe(true);
  });

  it('grant.created, grant.deleted, grant.imap_sync_completed, a new provider', () => {
    expect(value(run(fx.notificationFrom(fx.grantCreated())), 'grants')).toMatchObject({
      action: 'CREATED',
      grant: {
        login_id: 'login-1',
        name: 'Nyla',
        scope: ['https://www.googleapis.com/auth/gmail.modify', 'openid'],
      },
    });
    expect(value(run(fx.notificationFrom(fx.grantDeleted())), 'grants').action).toBe('DELETED');
    expect(value(run(fx.notificationFrom(fx.grantImapSyncCompleted())), 'grants')).toMatchObject({
      action: 'IMAP_SYNC_COMPLETED',
      grant: { provider: 'IMAP' },
    });
    const env = fx.grantCreated();
    (env.data.object as Record<string, unknown>).provider = 'fastmail';
    expect(value(run(fx.notificationFrom(env)), 'grants').grant?.provider).toBe('UNKNOWN');
  });
});

describe('unmodeled', () => {
  it.each<[string, () => NylasEnvelope]>([
    ['booking.created', fx.bookingCreated],
    [
      'notetaker.media',
      () => ({
        ...fx.bookingCreated(),
        type: 'notetaker.media',
        data: {
          application_id: fx.APP,
          object: { id: 'nt-1', grant_id: fx.GRANT, media: { recording: 'https://x' } },
        },
      }),
    ],
    ['message.intelligence.order', () => ({ ...fx.bookingCreated(), type: 'message.intelligence.order' })],
    ['something.new.tomorrow', () => ({ ...fx.bookingCreated(), type: 'something.new.tomorrow' })],
  ])('%s → nylas.unmodeled with the object as JSON', (type, make) => {
    const env = make();
    const e = run(fx.notificationFrom(env));
    expect(e.topic).toBe('nylas.unmodeled');
    const v = value(e, 'unmodeled');
    expect(v.nylas_type).toBe(type);
    expect(v.event_type).toBe(type);
    expect(JSON.parse(v.object_json ?? 'null')).toEqual(env.data.object);
  });

  it('keeps the other data fields, and a null object', () => {
    const env = fx.bookingCreated();
    env.data.object = null;
    const v = value(run(fx.notificationFrom(env)), 'unmodeled');
    expect(v.object_json).toBeNull();
    expect(JSON.parse(v.data_json ?? 'null')).toEqual({ grant_id: fx.GRANT });
  });
});

describe('every contract example passes its schema, live and backfilled', () => {
  const builders = Object.entries(fx).filter(
    ([name, fn]) => typeof fn === 'function' && !['notificationFrom', 'messageObject'].includes(name),
  ) as Array<[string, () => NylasEnvelope]>;
  it.each(builders)('%s', (_name, build) => {
    const e = run(fx.notificationFrom(build()));
    expect(e.value.event_id).toEqual(expect.any(String));
    expect(e.value.origin).toBe('LIVE');
    expect(run(fx.notificationFrom(build(), { origin: 'backfill' })).value.origin).toBe('BACKFILL');
  });
});
