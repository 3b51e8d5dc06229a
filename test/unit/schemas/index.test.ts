import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTopicsConfig } from '../../../lib/config';
import { NylasStreamError } from '../../../lib/errors';
import {
  COMMON_FIELDS,
  DOMAIN_SCHEMA_NAMES,
  invalidPaths,
  lintSchema,
  loadDomainSchemas,
  parseDomainSchema,
  schemaByName,
  schemasDir,
  subjectFor,
} from '../../../schemas';

const source = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(schemasDir(), `${name}.avsc`), 'utf8')) as Record<string, unknown>;

type Fields = Array<Record<string, unknown>>;

function expectInvalid(fn: () => unknown, ...fragments: RegExp[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(NylasStreamError);
  expect((caught as NylasStreamError).code).toBe('SCHEMA_INVALID');
  for (const f of fragments) expect((caught as Error).message).toMatch(f);
}

describe('loadDomainSchemas', () => {
  const schemas = loadDomainSchemas();
  const topics = loadTopicsConfig({});

  it('loads one schema per domain topic, each mapped to its topic', () => {
    expect(schemas.map((s) => s.name)).toEqual(DOMAIN_SCHEMA_NAMES);
    expect(Object.fromEntries(schemas.map((s) => [s.name, subjectFor(String(topics[s.topicKey]))]))).toEqual({
      messages: 'nylas.email.messages-value',
      folders: 'nylas.email.folders-value',
      tracking: 'nylas.email.tracking-value',
      delivery: 'nylas.email.delivery-value',
      events: 'nylas.calendar.events-value',
      calendars: 'nylas.calendar.calendars-value',
      contacts: 'nylas.contacts-value',
      grants: 'nylas.grants-value',
      unmodeled: 'nylas.unmodeled-value',
    });
  });

  it.each(DOMAIN_SCHEMA_NAMES)('%s: starts with the common fields and round-trips random data', (name) => {
    const s = schemaByName(name);
    const fields = (s.schema as { fields: Fields }).fields;
    expect(fields.slice(0, COMMON_FIELDS.length).map((f) => f.name)).toEqual(
      COMMON_FIELDS.map((f) => f.name),
    );
    expect(lintSchema(s.schema)).toEqual([]);
    for (let i = 0; i < 20; i++) {
      const v = s.type.random() as unknown;
      expect(s.type.fromBuffer(s.type.toBuffer(v))).toEqual(v);
    }
  });

  it('schemaByName fails clearly for an unknown name', () => {
    expectInvalid(() => schemaByName('nope'), /no domain schema named "nope"/);
  });

  it('validates on load: a directory with an unmapped or missing file is rejected naming the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'schemas-'));
    for (const n of DOMAIN_SCHEMA_NAMES.filter((n) => n !== 'grants')) {
      writeFileSync(path.join(dir, `${n}.avsc`), JSON.stringify(source(n)));
    }
    expectInvalid(() => loadDomainSchemas(dir), /grants\.avsc/, /missing/);
    writeFileSync(path.join(dir, 'grants.avsc'), JSON.stringify(source('grants')));
    expect(loadDomainSchemas(dir)).toHaveLength(DOMAIN_SCHEMA_NAMES.length);
    writeFileSync(path.join(dir, 'bookings.avsc'), JSON.stringify(source('grants')));
    expectInvalid(() => loadDomainSchemas(dir), /bookings\.avsc/, /has no topic/);
  });
});

describe('parseDomainSchema rejects a broken contract, naming file and field', () => {
  const edit = (change: (s: { fields: Fields } & Record<string, unknown>) => void): string => {
    const s = source('messages') as { fields: Fields } & Record<string, unknown>;
    change(s);
    return JSON.stringify(s);
  };
  const messageRecord = (s: { fields: Fields }): { fields: Fields } =>
    (s.fields.find((f) => f.name === 'message')!.type as unknown[])[1] as { fields: Fields };

  it('invalid JSON', () => {
    expectInvalid(
      () => parseDomainSchema('messages', '{"type": "record",'),
      /messages\.avsc/,
      /not valid JSON/,
    );
  });

  it('not an Avro schema', () => {
    expectInvalid(
      () =>
        parseDomainSchema(
          'messages',
          edit((s) => s.fields.push({ name: 'x', type: 'strnig', doc: 'd' })),
        ),
      /messages\.avsc/,
      /not a valid Avro schema/,
    );
  });

  it('a field without doc (nested path)', () => {
    const text = edit((s) => {
      delete messageRecord(s).fields.find((f) => f.name === 'subject')!.doc;
    });
    expectInvalid(
      () => parseDomainSchema('messages', text),
      /messages\.avsc/,
      /message\.subject: field has no doc/,
    );
  });

  it('an enum without a default symbol', () => {
    const text = edit((s) => {
      const action = s.fields.find((f) => f.name === 'action')!.type as Record<string, unknown>;
      delete action.default;
    });
    expectInvalid(() => parseDomainSchema('messages', text), /action: enum MessageAction needs a "default"/);
  });

  it('an optional field without default null, and null not first', () => {
    const text = edit((s) => {
      const f = messageRecord(s).fields.find((x) => x.name === 'snippet')!;
      delete f.default;
    });
    expectInvalid(
      () => parseDomainSchema('messages', text),
      /message\.snippet: optional field must have "default": null/,
    );
    const lint = lintSchema({
      type: 'record',
      name: 'R',
      doc: 'd',
      fields: [{ name: 'a', type: ['string', 'null'], doc: 'd', default: 'x' }],
    });
    expect(lint).toEqual([
      'a: "null" must be the first branch of an optional union (so its default can be null)',
    ]);
  });

  it('a timestamp that is not timestamp-millis', () => {
    const text = edit((s) => {
      messageRecord(s).fields.find((x) => x.name === 'date')!.type = ['null', 'long'];
    });
    expectInvalid(() => parseDomainSchema('messages', text), /message\.date: looks like a timestamp/);
  });

  it('a missing or retyped common field, and a wrong namespace', () => {
    expectInvalid(
      () =>
        parseDomainSchema(
          'messages',
          edit((s) => s.fields.splice(1, 1)),
        ),
      /field #1 must be the common field "event_type"/,
    );
    expectInvalid(
      () =>
        parseDomainSchema(
          'messages',
          edit((s) => {
            s.fields[6] = { ...s.fields[6], type: 'int' };
          }),
        ),
      /object_version: common field must have type "long"/,
    );
    expectInvalid(
      () =>
        parseDomainSchema(
          'messages',
          edit((s) => (s.namespace = 'com.example')),
        ),
      /namespace must be "io.nylasstream.v1"/,
    );
  });

  it('an unknown schema name', () => {
    expectInvalid(
      () => parseDomainSchema('bookings', JSON.stringify(source('grants'))),
      /"bookings" is not a domain schema/,
    );
  });
});

describe('invalidPaths', () => {
  it('names the offending field path, empty for a valid value', () => {
    const s = schemaByName('folders');
    const valid = s.type.random() as unknown as Record<string, unknown>;
    expect(invalidPaths(s, valid)).toEqual([]);
    const bad = { ...valid, object_version: 'seven', folder: { ...(valid.folder as object), id: 42 } };
    if (valid.folder === null) bad.folder = { id: 42 } as never;
    const paths = invalidPaths(s, bad);
    expect(paths).toContain('object_version');
    expect(paths.some((p) => p.startsWith('folder'))).toBe(true);
  });
});
