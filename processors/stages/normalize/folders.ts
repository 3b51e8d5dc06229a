/** The folder family: `folder.created`/`.updated`/`.deleted` (labels on Google). */
import { bool, long, str, strArray } from '../../../lib/json';
import type { Folder } from '../../../schemas/generated/types';
import type { Notification } from '../../types';
import { crudAction, objectFor, type Specific } from './shared';

export function folderFields(n: Notification): Specific<'folders'> {
  const action = crudAction(n);
  const o = objectFor(n, action);
  const folder: Folder | null = o
    ? {
        id: str(o.id) ?? n.object.objectId,
        name: str(o.name),
        system_folder: bool(o.system_folder),
        parent_id: str(o.parent_id),
        background_color: str(o.background_color),
        text_color: str(o.text_color),
        child_count: long(o.child_count),
        unread_count: long(o.unread_count),
        total_count: long(o.total_count),
        attributes: strArray(o.attributes),
      }
    : null;
  return { action, folder };
}
