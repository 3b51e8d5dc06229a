/** The folder family (processors/stages/normalize/folders.ts). */
import { folderFields } from '../../../../../processors/stages/normalize/folders';
import { NOTIFICATION_ID, normalizeFailure, notification } from './notification';

describe('folderFields', () => {
  it('reads the folder leniently: counts from numeric text, odd types null', () => {
    const f = folderFields(
      notification('folder.updated', {
        id: 'Label_1',
        name: 'Projects',
        system_folder: 'no',
        child_count: '2',
        unread_count: 3.9,
        attributes: ['\\HasNoChildren', 4],
      }),
    );
    expect(f).toEqual({
      action: 'UPDATED',
      folder: {
        id: 'Label_1',
        name: 'Projects',
        system_folder: null,
        parent_id: null,
        background_color: null,
        text_color: null,
        child_count: 2,
        unread_count: 3,
        total_count: null,
        attributes: ['\\HasNoChildren', '4'],
      },
    });
  });

  it('falls back to the notification object id', () => {
    expect(folderFields(notification('folder.created', { name: 'x' })).folder?.id).toBe(NOTIFICATION_ID);
  });

  it('lets a delete go without an object, fails an update without one', () => {
    expect(folderFields(notification('folder.deleted', null))).toEqual({ action: 'DELETED', folder: null });
    expect(normalizeFailure(() => folderFields(notification('folder.updated', null))).code).toBe(
      'NORMALIZE_FAILED',
    );
  });
});
