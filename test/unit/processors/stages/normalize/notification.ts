/**
 * Notifications for the family-module tests: a trigger type and an object (or none), through the same
 * builder the contract fixtures use, so each family function sees what decode would hand it.
 */
import type { Obj } from '../../../../../lib/json';
import type { Notification } from '../../../../../processors/types';
import {
  APP,
  GRANT,
  type NotificationOverrides,
  notificationFrom,
} from '../../../schemas/fixtures/notifications';

export const NOTIFICATION_ID = 'n-0001';

export function notification(
  type: string,
  object: Obj | null,
  options: NotificationOverrides & { data?: Obj } = {},
): Notification {
  const { data, ...overrides } = options;
  return notificationFrom(
    {
      specversion: '1.0',
      type,
      source: '/test',
      id: NOTIFICATION_ID,
      time: 1723821985,
      data: { application_id: APP, grant_id: GRANT, ...data, object },
    },
    overrides,
  );
}

/** The NORMALIZE_FAILED error `run` throws, for asserting on its code and message. */
export function normalizeFailure(run: () => unknown): { code: unknown; message: string } {
  try {
    run();
  } catch (err) {
    if (err instanceof Error && 'code' in err) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a NORMALIZE_FAILED error, nothing was thrown');
}
