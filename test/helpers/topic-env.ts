/**
 * A full set of TOPIC_* overrides with per-test unique names, so a CLI test can run commands over "the"
 * topics without touching anyone else's.
 */
import { uniqueName } from './names';

export const TOPIC_VARIABLES = [
  'TOPIC_RAW',
  'TOPIC_REJECTED',
  'TOPIC_DLQ',
  'TOPIC_STATE',
  'TOPIC_BACKFILL',
  'TOPIC_KNOWN_OBJECTS',
  'TOPIC_EMAIL_MESSAGES',
  'TOPIC_EMAIL_FOLDERS',
  'TOPIC_EMAIL_TRACKING',
  'TOPIC_EMAIL_DELIVERY',
  'TOPIC_CALENDAR_EVENTS',
  'TOPIC_CALENDAR_CALENDARS',
  'TOPIC_CONTACTS',
  'TOPIC_GRANTS',
  'TOPIC_UNMODELED',
] as const;

export function uniqueTopicEnv(prefix: string, partitions = 3): Record<string, string> {
  const base = uniqueName(prefix);
  const env: Record<string, string> = { TOPIC_PARTITIONS: String(partitions), TOPIC_REPLICATION_FACTOR: '1' };
  for (const v of TOPIC_VARIABLES) env[v] = `${base}.${v.slice('TOPIC_'.length).toLowerCase()}`;
  return env;
}
