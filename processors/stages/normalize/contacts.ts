/** The contact family: `contact.updated`/`.deleted`. */
import { enumOf, isObj, objArray, str } from '../../../lib/json';
import type { Contact } from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { crudAction, objectFor, type Specific } from './shared';

function typedEntries<K extends string>(
  v: unknown,
  key: K,
): Array<Record<K, string | null> & { type: string | null }> | null {
  return objArray(
    v,
    (e) =>
      ({ [key]: str(e[key]), type: str(e.type) }) as Record<K, string | null> & {
        type: string | null;
      },
  );
}

export function contactFields(n: Notification): Specific<'contacts'> {
  const action = crudAction(n);
  const o = objectFor(n, action);
  const contact: Contact | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        given_name: str(o.given_name),
        middle_name: str(o.middle_name),
        surname: str(o.surname),
        suffix: str(o.suffix),
        nickname: str(o.nickname),
        birthday: str(o.birthday),
        company_name: str(o.company_name),
        job_title: str(o.job_title),
        manager_name: str(o.manager_name),
        office_location: str(o.office_location),
        notes: str(o.notes),
        picture_url: str(o.picture_url),
        source: enumOf(o.source, ['ADDRESS_BOOK', 'INBOX', 'DOMAIN'] as const),
        emails: typedEntries(o.emails, 'email'),
        phone_numbers: typedEntries(o.phone_numbers, 'number'),
        physical_addresses: objArray(o.physical_addresses, (a) => ({
          street_address: str(a.street_address),
          city: str(a.city),
          state: str(a.state),
          postal_code: str(a.postal_code),
          country: str(a.country),
          type: str(a.type),
        })),
        web_pages: typedEntries(o.web_pages, 'url'),
        im_addresses: typedEntries(o.im_addresses, 'im_address'),
        groups: Array.isArray(o.groups)
          ? o.groups.map((g) => (isObj(g) ? str(g.id) : str(g))).filter((g): g is string => g !== null)
          : null,
      }
    : null;
  return { action, contact };
}
