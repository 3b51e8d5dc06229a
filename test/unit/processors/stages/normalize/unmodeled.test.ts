/** Triggers without a model (processors/stages/normalize/unmodeled.ts). */
import { unmodeledFields } from '../../../../../processors/stages/normalize/unmodeled';
import { notification } from './notification';

describe('unmodeledFields', () => {
  it('keeps the object and the rest of data (not the application id, a common field) as JSON text', () => {
    const n = notification('booking.created', { booking_id: 'b-1' }, { data: { configuration_id: 'cfg' } });
    expect(unmodeledFields(n)).toEqual({
      object_json: '{"booking_id":"b-1"}',
      data_json: '{"grant_id":"e19f8e1a-eb1c-4673-b602-ba4a189b18bd","configuration_id":"cfg"}',
    });
  });

  it('is null for an absent object and for data with nothing else in it', () => {
    const n = notification('notetaker.media', null);
    const { grant_id: _grantId, ...data } = n.envelope.data;
    expect(unmodeledFields({ ...n, envelope: { ...n.envelope, data } })).toEqual({
      object_json: null,
      data_json: null,
    });
  });
});
