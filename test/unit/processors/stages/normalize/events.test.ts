/** The event family (processors/stages/normalize/events.ts). */
import { eventFields } from '../../../../../processors/stages/normalize/events';
import { NOTIFICATION_ID, normalizeFailure, notification } from './notification';

function eventWith(object: Record<string, unknown>) {
  const f = eventFields(notification('event.updated', { id: 'ev-1', ...object }));
  if (f.event === null) throw new Error('an update must carry its event');
  return f.event;
}

describe('eventFields', () => {
  it('reads the event leniently, enums upper-cased and unknown ones UNKNOWN', () => {
    const e = eventWith({
      title: 'Standup',
      status: 'confirmed',
      visibility: 'secret',
      busy: 'yes',
      sequence: '3',
      created_at: 1700000000,
      organizer: { email: 'o@x', name: 'O' },
      participants: [{ email: 'p@x', status: 'noreply' }, 'junk'],
      resources: [{ email: 'room@x' }],
      recurrence: ['RRULE:FREQ=DAILY'],
      metadata: { key: 5 },
    });
    expect(e).toMatchObject({
      id: 'ev-1',
      title: 'Standup',
      status: 'CONFIRMED',
      visibility: 'UNKNOWN',
      busy: null,
      sequence: 3,
      created_at: 1700000000000,
      organizer: { email: 'o@x', name: 'O' },
      creator: null,
      resources: [{ email: 'room@x', name: null }],
      recurrence: ['RRULE:FREQ=DAILY'],
      metadata: { key: '5' },
    });
    expect(e.participants).toEqual([
      { email: 'p@x', name: null, status: 'NOREPLY', comment: null, phone_number: null },
    ]);
  });

  it('infers when.kind from the fields present when when.object is missing', () => {
    expect(eventWith({ when: { start_time: 1, end_time: 2 } }).when).toMatchObject({
      kind: 'TIMESPAN',
      start_time: 1000,
      end_time: 2000,
    });
    expect(eventWith({ when: { start_date: '2024-08-20' } }).when?.kind).toBe('DATESPAN');
    expect(eventWith({ when: { date: '2024-08-20' } }).when?.kind).toBe('DATE');
    expect(eventWith({ when: { time: 5 } }).when).toMatchObject({ kind: 'TIME', time: 5000 });
    expect(eventWith({ when: {} }).when?.kind).toBe('UNKNOWN');
    expect(eventWith({ when: { object: 'date', start_time: 1 } }).when?.kind).toBe('DATE');
    expect(eventWith({ when: 'tomorrow' }).when).toBeNull();
  });

  it('reads conferencing details and reminder overrides in both spellings', () => {
    const e = eventWith({
      conferencing: { provider: 'Zoom', details: { url: 'https://z', phone: ['+1', 2] } },
      reminders: {
        use_default: false,
        overrides: [{ reminder_minutes: 10, reminder_method: 'popup' }, { minutes: '5' }],
      },
    });
    expect(e.conferencing).toMatchObject({
      provider: 'Zoom',
      url: 'https://z',
      meeting_code: null,
      phone: ['+1', '2'],
      details_json: '{"url":"https://z","phone":["+1",2]}',
    });
    expect(e.reminders).toEqual({
      use_default: false,
      overrides: [
        { minutes: 10, method: 'popup' },
        { minutes: 5, method: null },
      ],
    });
    expect(
      eventWith({ conferencing: { provider: 'Google Meet', autocreate: {} } }).conferencing?.details_json,
    ).toBe('{}');
  });

  it('sets transformed from the suffix and falls back to the notification object id', () => {
    const f = eventFields(notification('event.created.transformed', { title: 'x' }));
    expect(f).toMatchObject({ action: 'CREATED', transformed: true, event: { id: NOTIFICATION_ID } });
  });

  it('lets a delete go without an object, fails an update without one', () => {
    expect(eventFields(notification('event.deleted', null))).toEqual({
      action: 'DELETED',
      transformed: false,
      event: null,
    });
    expect(normalizeFailure(() => eventFields(notification('event.updated', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});
