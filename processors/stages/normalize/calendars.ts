/** The calendar family: `calendar.created`/`.updated`/`.deleted`. */
import { bool, metadata, str } from '../../../lib/json';
import type { Calendar } from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { crudAction, objectFor, type Specific } from './shared';

export function calendarFields(n: Notification): Specific<'calendars'> {
  const action = crudAction(n);
  const o = objectFor(n, action);
  const calendar: Calendar | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        name: str(o.name),
        description: str(o.description),
        location: str(o.location),
        timezone: str(o.timezone),
        is_primary: bool(o.is_primary),
        read_only: bool(o.read_only),
        is_owned_by_user: bool(o.is_owned_by_user),
        owner_email: str(o.owner_email),
        hex_color: str(o.hex_color),
        hex_foreground_color: str(o.hex_foreground_color),
        metadata: metadata(o.metadata),
      }
    : null;
  return { action, calendar };
}
