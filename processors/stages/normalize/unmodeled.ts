/** Triggers with no model (booking, scheduler, …): the object and the rest of `data` as JSON text, so
 * nothing is lost. */
import { json } from '../../../lib/json';
import type { Notification } from '../../types';
import type { Specific } from './shared';

export function unmodeledFields(n: Notification): Specific<'unmodeled'> {
  const { object, application_id: _applicationId, ...rest } = n.envelope.data;
  return {
    object_json: json(object),
    data_json: Object.keys(rest).length > 0 ? JSON.stringify(rest) : null,
  };
}
