/** The contact family (processors/stages/normalize/contacts.ts). */
import { contactFields } from '../../../../../processors/stages/normalize/contacts';
import { normalizeFailure, notification } from './notification';

describe('contactFields', () => {
  it('reads typed entries under their own key, addresses, and groups as ids', () => {
    const f = contactFields(
      notification('contact.updated', {
        id: 'c-1',
        given_name: 'Ada',
        source: 'address_book',
        emails: [{ email: 'ada@x', type: 'work' }, 'junk'],
        phone_numbers: [{ number: 5550100 }],
        web_pages: null,
        im_addresses: [{ im_address: 'ada', type: null }],
        physical_addresses: [{ city: 'London' }],
        groups: [{ id: 'g-1' }, 'g-2', 3, { name: 'no id' }, null],
      }),
    );
    expect(f.action).toBe('UPDATED');
    expect(f.contact).toMatchObject({
      id: 'c-1',
      given_name: 'Ada',
      surname: null,
      source: 'ADDRESS_BOOK',
      emails: [{ email: 'ada@x', type: 'work' }],
      phone_numbers: [{ number: '5550100', type: null }],
      web_pages: null,
      im_addresses: [{ im_address: 'ada', type: null }],
      groups: ['g-1', 'g-2', '3'],
    });
    expect(f.contact?.physical_addresses).toEqual([
      { street_address: null, city: 'London', state: null, postal_code: null, country: null, type: null },
    ]);
  });

  it('keeps absent lists null rather than empty', () => {
    const f = contactFields(notification('contact.updated', { id: 'c-1', groups: 'g-1' }));
    expect(f.contact).toMatchObject({
      emails: null,
      phone_numbers: null,
      physical_addresses: null,
      groups: null,
    });
  });

  it('lets a delete go without an object, fails an update without one', () => {
    expect(contactFields(notification('contact.deleted', null))).toEqual({
      action: 'DELETED',
      contact: null,
    });
    expect(normalizeFailure(() => contactFields(notification('contact.updated', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});
