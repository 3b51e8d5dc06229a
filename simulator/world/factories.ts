/**
 * Builders for realistic Nylas objects in their REST shapes (docs/nylas-contract.md §3.2 field
 * lists; §4.2 REST objects). Every value comes from the Random passed in, so a seed reproduces them.
 */
import type { Random } from './random';
import { sentence, snippetFor } from './text';
import type { BodySpec, GrantRecord, NylasObject, Provider } from './types';

const FIRST = [
  'Nyla',
  'Leyah',
  'Kaveh',
  'John',
  'Amara',
  'Sofia',
  'Wei',
  'Priya',
  'Mateo',
  'Hana',
  'Omar',
  'Lena',
];
const LAST = ['Miller', 'Schmidt', 'Okafor', 'Garcia', 'Chen', 'Patel', 'Rossi', 'Tanaka', 'Haddad', 'Novak'];
const DOMAINS = ['example.com', 'example.org', 'example.net'];
const TIMEZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Tokyo', 'America/Los_Angeles', 'UTC'];

export interface Person {
  name: string;
  email: string;
}

export function person(rng: Random): Person {
  const first = rng.pick(FIRST);
  const last = rng.pick(LAST);
  return {
    name: `${first} ${last}`,
    email: `${first}.${last}${rng.int(1, 99)}@${rng.pick(DOMAINS)}`.toLowerCase(),
  };
}

const PROVIDER_WEIGHTS: Record<Provider, number> = {
  google: 55,
  microsoft: 30,
  imap: 6,
  yahoo: 3,
  icloud: 3,
  ews: 3,
};

export function makeGrant(rng: Random, now: number): GrantRecord {
  const p = person(rng);
  const provider = rng.weighted(PROVIDER_WEIGHTS);
  const created = now - rng.int(86_400, 400 * 86_400);
  return {
    id: rng.uuid(),
    provider,
    email: p.email,
    name: p.name,
    integration_id: rng.uuid(),
    scope:
      provider === 'google'
        ? ['https://www.googleapis.com/auth/gmail.modify', 'https://www.googleapis.com/auth/calendar']
        : ['Mail.ReadWrite', 'Calendars.ReadWrite', 'Contacts.Read'],
    grant_status: 'valid',
    created_at: created,
    updated_at: created + rng.int(0, Math.max(0, now - created - 3600)),
  };
}

/** Message ids look like Gmail's 16 hex digits; other ids follow their provider's examples in §3.3. */
export function messageId(rng: Random): string {
  return `19${rng.hex(14)}`;
}

const SYSTEM_FOLDERS: ReadonlyArray<[string, string, string]> = [
  ['INBOX', 'INBOX', '\\Inbox'],
  ['SENT', 'SENT', '\\Sent'],
  ['DRAFT', 'DRAFT', '\\Drafts'],
  ['TRASH', 'TRASH', '\\Trash'],
  ['SPAM', 'SPAM', '\\Junk'],
  ['UNREAD', 'UNREAD', ''],
];

export function makeFolder(
  grantId: string,
  id: string,
  name: string,
  system: boolean,
  attribute = '',
): NylasObject {
  return {
    id,
    grant_id: grantId,
    object: 'folder',
    name,
    system_folder: system,
    parent_id: null,
    background_color: system ? null : '#039BE5',
    text_color: system ? null : '#FFFFFF',
    child_count: 0,
    unread_count: 0,
    total_count: 0,
    attributes: attribute ? [attribute] : [],
  };
}

export function systemFolders(grantId: string): NylasObject[] {
  return SYSTEM_FOLDERS.map(([id, name, attr]) => makeFolder(grantId, id, name, true, attr));
}

export function makeLabel(rng: Random, grantId: string): NylasObject {
  return makeFolder(
    grantId,
    `Label_${rng.int(1000, 999_999)}`,
    `${rng.pick(['Receipts', 'Projects', 'Travel', 'Team'])}/${rng.int(2019, 2026)}`,
    false,
  );
}

export function makeCalendar(rng: Random, grant: GrantRecord, primary: boolean): NylasObject {
  const id = primary ? grant.email : `c_${rng.hex(16)}@group.calendar.google.com`;
  return {
    id,
    grant_id: grant.id,
    object: 'calendar',
    name: primary ? grant.name : rng.pick(['Personal', 'Team', 'On-call', 'Holidays']),
    description: primary ? null : sentence(rng.nextUint32(), 4),
    location: null,
    timezone: rng.pick(TIMEZONES),
    is_primary: primary,
    read_only: false,
    is_owned_by_user: true,
    hex_color: '#039BE5',
    hex_foreground_color: '#FFFFFF',
    metadata: {},
  };
}

export function makeContact(rng: Random, grantId: string): NylasObject {
  const p = person(rng);
  const [given, surname] = p.name.split(' ');
  return {
    id: `people/c${rng.int(100_000_000, 999_999_999)}${rng.int(100_000_000, 999_999_999)}`,
    grant_id: grantId,
    object: 'contact',
    given_name: given ?? null,
    middle_name: null,
    surname: surname ?? null,
    suffix: null,
    nickname: rng.chance(0.3) ? (given ?? '').slice(0, 3) : null,
    birthday: rng.chance(0.4)
      ? `19${rng.int(60, 99)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`
      : null,
    company_name: rng.chance(0.6) ? 'Nyla Global Express Inc.' : null,
    job_title: rng.chance(0.5)
      ? rng.pick(['Software Engineer', 'Account Executive', 'Designer', 'CFO'])
      : null,
    manager_name: null,
    office_location: null,
    notes: null,
    source: 'address_book',
    emails: [{ email: p.email, type: 'work' }],
    phone_numbers: rng.chance(0.5)
      ? [{ number: `+1 415 555 ${String(rng.int(0, 9999)).padStart(4, '0')}`, type: 'mobile' }]
      : null,
    physical_addresses: null,
    web_pages: null,
    im_addresses: null,
    groups: [{ id: 'myContacts' }],
  };
}

/** Message body sizes. Most mail is small; a tail is large; a few exceed the 1 MB notification limit
 * and must be delivered as `.truncated` (§4.1) while the API serves them whole. */
export interface BodySizeDistribution {
  /** Probability of a body over 1 MB (1.05–1.6 MB). */
  largeRate: number;
  /** Probability of a 20–200 KB body. */
  mediumRate: number;
  /** Median size of an ordinary body, in characters. */
  typicalSize: number;
}

export const DEFAULT_BODY_SIZES: BodySizeDistribution = {
  largeRate: 0.002,
  mediumRate: 0.03,
  typicalSize: 1500,
};

export function sampleBodySize(rng: Random, dist: BodySizeDistribution): number {
  const r = rng.next();
  if (r < dist.largeRate) return rng.int(1_050_000, 1_600_000);
  if (r < dist.largeRate + dist.mediumRate) return rng.int(20_000, 200_000);
  // log-normal-ish around the typical size, clamped to [200, 16 KB]
  const factor = Math.exp((rng.next() + rng.next() + rng.next() - 1.5) * 1.2);
  return Math.min(16_384, Math.max(200, Math.round(dist.typicalSize * factor)));
}

export interface MessageDraft {
  data: NylasObject;
  body: BodySpec;
}

export function makeMessage(
  rng: Random,
  grant: GrantRecord,
  options: { date: number; bodySize: number; threadId?: string; subject?: string; outgoing?: boolean },
): MessageDraft {
  const other = person(rng);
  const me = { name: grant.name, email: grant.email };
  const outgoing = options.outgoing ?? false;
  const body: BodySpec = { seed: rng.nextUint32(), size: options.bodySize };
  const id = messageId(rng);
  const attachments = rng.chance(0.15)
    ? [
        {
          id: `v0:${rng.alnum(12)}:${rng.alnum(8)}:${rng.int(1000, 900_000)}`,
          grant_id: grant.id,
          filename: 'notes.pdf',
          content_type: 'application/pdf; name="notes.pdf"',
          size: rng.int(1000, 900_000),
          is_inline: false,
          content_disposition: 'attachment; filename="notes.pdf"',
        },
      ]
    : [];
  return {
    body,
    data: {
      id,
      grant_id: grant.id,
      object: 'message',
      thread_id: options.threadId ?? id,
      subject: options.subject ?? sentence(rng.nextUint32(), rng.int(2, 6)),
      from: [outgoing ? me : other],
      to: [outgoing ? other : me],
      cc: rng.chance(0.2) ? [{ email: person(rng).email }] : [],
      bcc: [],
      reply_to: [],
      date: options.date,
      snippet: snippetFor(body),
      starred: false,
      unread: !outgoing,
      folders: outgoing ? ['SENT'] : ['INBOX', 'UNREAD'],
      attachments,
      metadata: {},
    },
  };
}

export function makeEvent(rng: Random, grant: GrantRecord, calendarId: string, now: number): NylasObject {
  const id = rng.alnum(26).toLowerCase();
  const start = (Math.floor(now / 1800) + rng.int(1, 24 * 14)) * 1800;
  const tz = rng.pick(TIMEZONES);
  const participant = person(rng);
  const recurring = rng.chance(0.2);
  return {
    id,
    grant_id: grant.id,
    object: 'event',
    calendar_id: calendarId,
    ical_uid: `${id}@google.com`,
    title: sentence(rng.nextUint32(), rng.int(1, 4)),
    description: sentence(rng.nextUint32(), 8),
    location: rng.chance(0.5) ? `Room ${rng.int(100, 499)}` : null,
    busy: true,
    status: 'confirmed',
    visibility: 'default',
    read_only: false,
    hide_participants: false,
    html_link: `https://www.google.com/calendar/event?eid=${rng.alnum(10)}`,
    organizer: { email: grant.email, name: grant.name },
    creator: { email: grant.email, name: grant.name },
    participants: [{ email: participant.email, name: participant.name, status: 'noreply' }],
    conferencing: {
      provider: 'Google Meet',
      details: {
        url: `https://meet.google.com/${rng.alnum(3).toLowerCase()}-${rng.alnum(4).toLowerCase()}-${rng.alnum(3).toLowerCase()}`,
      },
    },
    reminders: { use_default: true, overrides: [] },
    resources: [],
    recurrence: recurring ? ['RRULE:FREQ=WEEKLY;BYDAY=TH'] : [],
    metadata: {},
    created_at: now,
    updated_at: now,
    // §3.2 / §9 #18: present in notifications, provider-dependent on REST; starts at 0, +1 per update.
    sequence: 0,
    when: {
      object: 'timespan',
      start_time: start,
      end_time: start + 1800,
      start_timezone: tz,
      end_timezone: tz,
    },
  };
}

/** The REST thread for a set of messages (§5: earliest_message_date, latest_message_received_date…). */
export function threadOf(grantId: string, threadId: string, messages: readonly NylasObject[]): NylasObject {
  const sorted = [...messages].sort((a, b) => Number(a.date) - Number(b.date));
  const first = sorted[0] ?? {};
  const last = sorted[sorted.length - 1] ?? {};
  const received = sorted.filter((m) => !(m.folders as string[] | undefined)?.includes('SENT'));
  const sent = sorted.filter((m) => (m.folders as string[] | undefined)?.includes('SENT'));
  const folders = new Set<string>();
  for (const m of sorted) for (const f of (m.folders as string[] | undefined) ?? []) folders.add(f);
  return {
    id: threadId,
    grant_id: grantId,
    object: 'thread',
    subject: first.subject ?? null,
    snippet: last.snippet ?? '',
    message_ids: sorted.map((m) => m.id),
    draft_ids: [],
    participants: [...((first.from as unknown[]) ?? []), ...((first.to as unknown[]) ?? [])],
    earliest_message_date: first.date ?? null,
    latest_message_received_date: received.length ? received[received.length - 1]?.date : null,
    latest_message_sent_date: sent.length ? sent[sent.length - 1]?.date : null,
    has_attachments: sorted.some((m) => ((m.attachments as unknown[]) ?? []).length > 0),
    has_drafts: false,
    starred: sorted.some((m) => m.starred === true),
    unread: sorted.some((m) => m.unread === true),
    folders: [...folders],
    latest_draft_or_message: { ...last, body: undefined },
  };
}
