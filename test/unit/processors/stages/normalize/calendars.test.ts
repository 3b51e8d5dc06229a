/** The calendar family (processors/stages/normalize/calendars.ts). */
import { calendarFields } from '../../../../../processors/stages/normalize/calendars';
import { NOTIFICATION_ID, normalizeFailure, notification } from './notification';

describe('calendarFields', () => {
  it('reads the calendar leniently, metadata values as text', () => {
    const f = calendarFields(
      notification('calendar.created', { id: 'cal-1', name: 'Work', is_primary: true, metadata: { n: 1 } }),
    );
    expect(f.action).toBe('CREATED');
    expect(f.calendar).toMatchObject({ id: 'cal-1', name: 'Work', is_primary: true, read_only: null });
    expect(f.calendar?.metadata).toEqual({ n: '1' });
  });

  it('falls back to the notification object id', () => {
    expect(calendarFields(notification('calendar.updated', {})).calendar?.id).toBe(NOTIFICATION_ID);
  });

  it('lets a delete go without an object, fails a create without one', () => {
    expect(calendarFields(notification('calendar.deleted', null))).toEqual({
      action: 'DELETED',
      calendar: null,
    });
    expect(normalizeFailure(() => calendarFields(notification('calendar.created', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});
