/**
 * The domain schemas against the REAL schema registry: registration under `<topic>-value` with
 * BACKWARD_TRANSITIVE, the Confluent wire format of a normalized event decoded independently of our
 * encoder (writer schema fetched by id, avsc directly), and `schemas check` refusing an incompatible change.
 * Only the first block touches the real subjects (idempotent); everything else uses unique topic names.
 */
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { Command } from 'commander';
import { registerSchemasCommands } from '../../../cli/commands/schemas';
import { main } from '../../../cli/index';
import type { TopicsConfig } from '../../../lib/config';
import { NylasStreamError } from '../../../lib/errors';
import { createSchemaRegistry } from '../../../lib/schema-registry';
import { normalize } from '../../../processors/stages/normalize';
import {
  checkDomainSchemas,
  DOMAIN_SCHEMA_NAMES,
  DOMAIN_SCHEMA_TOPICS,
  loadDomainSchemas,
  registerDomainSchemas,
  SchemaIncompatibleError,
  schemaByName,
  subjectFor,
} from '../../../schemas';
import { testConfig, uniqueName } from '../../helpers/kafka';
import * as fx from '../../unit/schemas/fixtures/notifications';

const config = testConfig();
const registry = createSchemaRegistry(config.registry);

const TOPIC_VARS: Record<string, string> = {
  emailMessages: 'TOPIC_EMAIL_MESSAGES',
  emailFolders: 'TOPIC_EMAIL_FOLDERS',
  emailTracking: 'TOPIC_EMAIL_TRACKING',
  emailDelivery: 'TOPIC_EMAIL_DELIVERY',
  calendarEvents: 'TOPIC_CALENDAR_EVENTS',
  calendarCalendars: 'TOPIC_CALENDAR_CALENDARS',
  contacts: 'TOPIC_CONTACTS',
  grants: 'TOPIC_GRANTS',
  unmodeled: 'TOPIC_UNMODELED',
};

/** TOPIC_* overrides giving every domain topic a name (and so a subject) no other test uses. */
function uniqueTopicEnv(prefix: string): Record<string, string> {
  const base = uniqueName(prefix);
  return Object.fromEntries(
    DOMAIN_SCHEMA_NAMES.map((n) => [TOPIC_VARS[DOMAIN_SCHEMA_TOPICS[n]]!, `${base}.${n}`]),
  );
}

async function writerSchemaById(id: number): Promise<avro.Type> {
  const res = await fetch(`${config.registry.url}/schemas/ids/${id}`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { schema: string };
  return avro.Type.forSchema(JSON.parse(body.schema) as avro.Schema);
}

/** The messages schema as it would have been without the `expanded` field: adding a required field is
 * the classic incompatible change (the new schema cannot read records written without it). */
function messagesWithoutExpanded(): object {
  const s = JSON.parse(JSON.stringify(schemaByName('messages').schema)) as {
    fields: Array<{ name: string }>;
  };
  s.fields = s.fields.filter((f) => f.name !== 'expanded');
  return s;
}

function cli(env: Record<string, string>): { program: Command; lines: string[] } {
  const lines: string[] = [];
  const program = new Command('nylas-stream').exitOverride();
  registerSchemasCommands(program, { ...process.env, LOG_LEVEL: 'silent', ...env }, (l) => lines.push(l));
  return { program, lines };
}

describe('domain schemas in the real registry', () => {
  let ids: Map<string, number>;

  beforeAll(async () => {
    ids = await registerDomainSchemas(registry, config.topics);
  });

  it('registers every schema under <topic>-value with BACKWARD_TRANSITIVE, idempotently', async () => {
    const topics = DOMAIN_SCHEMA_NAMES.map((n) => String(config.topics[DOMAIN_SCHEMA_TOPICS[n]]));
    expect([...ids.keys()].sort()).toEqual([...topics].sort());
    const again = await registerDomainSchemas(registry, config.topics);
    expect(again).toEqual(ids);
    for (const topic of topics) {
      const subject = subjectFor(topic);
      expect(await registry.getLatestSchemaId(subject)).toBe(ids.get(topic));
      const res = await fetch(`${config.registry.url}/config/${encodeURIComponent(subject)}`);
      expect(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe(
        'BACKWARD_TRANSITIVE',
      );
    }
  });

  it('`schemas check` finds the registered schemas compatible', async () => {
    const results = await checkDomainSchemas(config.registry, config.topics);
    expect(results.map((r) => r.status)).toEqual(DOMAIN_SCHEMA_NAMES.map(() => 'compatible'));
  });

  it.each<[string, () => ReturnType<typeof fx.messageCreated>, object]>([
    [
      'message.created.truncated, expanded',
      () => {
        const e = fx.messageTruncated();
        e.data.object = fx.messageObject();
        return e;
      },
      { expanded: true },
    ],
    ['event.updated', fx.eventUpdated, {}],
    ['message.send_failed', fx.sendFailed, {}],
    ['contact.updated', fx.contactUpdated, {}],
    ['booking.created', fx.bookingCreated, {}],
  ])(
    '%s: Confluent framing (magic 0 + 4-byte id) decodable with avsc and the writer schema fetched by id',
    async (_l, build, o) => {
      const event = normalize(fx.notificationFrom(build(), o), config.topics);
      const id = ids.get(event.topic)!;
      expect(id).toBeGreaterThan(0);
      const encoded = await registry.encode(id, event.value);
      expect(encoded).toBeConfluentAvro(id);
      expect(encoded.readUInt8(0)).toBe(0);
      expect(encoded.readUInt32BE(1)).toBe(id);

      const writer = await writerSchemaById(id);
      const decoded = writer.fromBuffer(encoded.subarray(5));
      expect(decoded).toEqual(event.value);
      // Our own loaded schema reads it too (what a downstream consumer with schemas/*.avsc does).
      const reader = schemaByName(event.schema).type;
      expect(reader.fromBuffer(encoded.subarray(5), reader.createResolver(writer))).toEqual(event.value);
      // Timestamps travel as timestamp-millis longs: the epoch-ms numbers normalize produced.
      expect((decoded as { occurred_at: number }).occurred_at).toBe((build().time as number) * 1000);
    },
  );
});

describe('`schemas check` and `schemas register` with an incompatible change (unique subjects)', () => {
  const env = uniqueTopicEnv('schemas-incompat');
  const topics = testConfig(env).topics as TopicsConfig;
  const messagesSubject = subjectFor(topics.emailMessages);

  beforeAll(async () => {
    // An older release of the messages schema lives in the registry already.
    await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(messagesWithoutExpanded()) },
      { subject: messagesSubject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
    );
  });

  it('checkDomainSchemas reports the incompatible subject and fails', async () => {
    let caught: unknown;
    try {
      await checkDomainSchemas(config.registry, topics);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SchemaIncompatibleError);
    const err = caught as SchemaIncompatibleError;
    expect(err.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(err.message).toContain(messagesSubject);
    const byName = Object.fromEntries(err.results.map((r) => [r.schema, r.status]));
    expect(byName).toEqual({
      ...Object.fromEntries(DOMAIN_SCHEMA_NAMES.map((n) => [n, 'new'])),
      messages: 'incompatible',
    });
  });

  it('`nylas-stream schemas check` prints every subject and fails with SCHEMA_INCOMPATIBLE', async () => {
    const { program, lines } = cli(env);
    await expect(program.parseAsync(['node', 'nylas-stream', 'schemas', 'check'])).rejects.toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
    });
    expect(lines).toHaveLength(DOMAIN_SCHEMA_NAMES.length);
    expect(lines.find((l) => l.startsWith(messagesSubject))).toMatch(/ incompatible/);
  });

  it('the real entry point exits non-zero', async () => {
    const saved = { ...process.env };
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    Object.assign(process.env, env);
    try {
      await expect(main(['node', 'nylas-stream', 'schemas', 'check'])).rejects.toBeInstanceOf(
        NylasStreamError,
      );
      expect(process.exitCode).toBe(1);
      expect(error.mock.calls.flat().join(' ')).toContain('SCHEMA_INCOMPATIBLE');
    } finally {
      process.exitCode = undefined;
      for (const k of Object.keys(env)) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
      error.mockRestore();
      log.mockRestore();
    }
  });

  it('registerDomainSchemas refuses the incompatible schema naming the subject', async () => {
    await expect(registerDomainSchemas(registry, topics, [schemaByName('messages')])).rejects.toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
      message: expect.stringContaining(messagesSubject),
    });
  });
});

describe('`schemas register` then `schemas check` on fresh subjects', () => {
  it('prints subject → id, and the check passes afterwards', async () => {
    const env = uniqueTopicEnv('schemas-fresh');
    const topics = testConfig(env).topics;
    const reg = cli(env);
    await reg.program.parseAsync(['node', 'nylas-stream', 'schemas', 'register']);
    expect(reg.lines).toHaveLength(DOMAIN_SCHEMA_NAMES.length);
    for (const s of loadDomainSchemas()) {
      const subject = subjectFor(String(topics[s.topicKey]));
      const id = await registry.getLatestSchemaId(subject);
      expect(reg.lines).toContainEqual(
        expect.stringMatching(new RegExp(`^${subject.replace(/\./g, '\\.')}\\s+id ${id}$`)),
      );
    }
    const check = cli(env);
    await check.program.parseAsync(['node', 'nylas-stream', 'schemas', 'check']);
    expect(check.lines.every((l) => / compatible/.test(l))).toBe(true);
  });
});
