/**
 * BACKWARD_TRANSITIVE before the registry: every current schema must read data written with EVERY
 * released snapshot in schemas/history/<name>/v<N>.avsc — random values from the writer schema plus the
 * realistic records in fixtures/history/<name>/v<N>.json. The last block proves the check can fail.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { DOMAIN_SCHEMA_NAMES, loadDomainSchemas, schemaByName } from '../../../schemas';
import { assertReads, canonical, loadHistory } from '../../../schemas/history';

const RANDOM_SAMPLES = 200;

function realisticRecords(name: string, version: number): unknown[] {
  const file = path.join(__dirname, 'fixtures', 'history', name, `v${version}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as unknown[];
}

function randomValues(type: avro.Type, n: number): unknown[] {
  return Array.from({ length: n }, () => type.random() as unknown);
}

describe('schema evolution history', () => {
  it.each(DOMAIN_SCHEMA_NAMES)(
    '%s: the newest snapshot is the current schema (a change needs a new vN+1.avsc)',
    (name) => {
      const history = loadHistory(name);
      expect(history.length).toBeGreaterThan(0);
      const newest = history[history.length - 1]!;
      const current = schemaByName(name);
      if (canonical(newest.schema) !== canonical(current.schema)) {
        throw new Error(
          `schemas/${name}.avsc differs from schemas/history/${name}/v${newest.version}.avsc: copy it to ` +
            `schemas/history/${name}/v${newest.version + 1}.avsc and add fixtures/history/${name}/v${newest.version + 1}.json`,
        );
      }
    },
  );

  describe.each(DOMAIN_SCHEMA_NAMES)('%s', (name) => {
    const current = schemaByName(name);
    const history = loadHistory(name);

    it.each(history.map((h) => [h.version, h] as const))('reads data written with v%i', (_v, snapshot) => {
      const records = realisticRecords(name, snapshot.version);
      expect(records.length).toBeGreaterThan(0);
      // The realistic records really are data of that version (not of the current schema).
      for (const r of records) expect(snapshot.type.isValid(r)).toBe(true);
      assertReads(
        current.type,
        snapshot.type,
        [...records, ...randomValues(snapshot.type, RANDOM_SAMPLES)],
        `${name} v${snapshot.version}`,
      );
    });

    it('keeps the common fields of realistic records when reading old data', () => {
      const oldest = history[0]!;
      const record = realisticRecords(name, oldest.version)[0] as Record<string, unknown>;
      const decoded = current.type.fromBuffer(
        oldest.type.toBuffer(record),
        current.type.createResolver(oldest.type),
      ) as Record<string, unknown>;
      for (const k of ['event_id', 'event_type', 'grant_id', 'object_id', 'object_version', 'occurred_at']) {
        expect(decoded[k]).toEqual(record[k]);
      }
    });
  });
});

describe('the evolution check can fail', () => {
  const messages = loadDomainSchemas().find((s) => s.name === 'messages')!;
  const v1 = loadHistory('messages')[0]!;
  const samples = [...realisticRecords('messages', 1), ...randomValues(v1.type, 20)];
  type Schema = { fields: Array<Record<string, unknown>>; [k: string]: unknown };
  const variant = (change: (s: Schema) => void): avro.Type => {
    const copy = JSON.parse(JSON.stringify(messages.schema)) as Schema;
    change(copy);
    return avro.Type.forSchema(copy as unknown as avro.Schema);
  };

  it.each<[string, (s: Schema) => void]>([
    ['a new field without a default', (s) => s.fields.push({ name: 'priority', type: 'int', doc: 'x' })],
    [
      'a changed field type',
      (s) => {
        s.fields = s.fields.map((f) => (f.name === 'object_version' ? { ...f, type: 'string' } : f));
      },
    ],
    [
      'a renamed field without an alias',
      (s) => {
        s.fields = s.fields.map((f) => (f.name === 'grant_id' ? { ...f, name: 'account_id' } : f));
      },
    ],
    [
      'an enum that lost a symbol and its default',
      (s) => {
        s.fields = s.fields.map((f) =>
          f.name === 'action'
            ? { ...f, type: { type: 'enum', name: 'MessageAction', symbols: ['CREATED', 'UPDATED'] } }
            : f,
        );
      },
    ],
  ])('rejects %s', (_label, change) => {
    expect(() => assertReads(variant(change), v1.type, samples, 'variant')).toThrow(/variant/);
  });

  it('accepts the safe change: a new optional field with default null', () => {
    const safe = variant((s) =>
      s.fields.push({ name: 'priority', type: ['null', 'int'], default: null, doc: 'x' }),
    );
    expect(() => assertReads(safe, v1.type, samples, 'safe')).not.toThrow();
  });
});
