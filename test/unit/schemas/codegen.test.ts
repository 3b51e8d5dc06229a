import { readFileSync } from 'node:fs';
import { loadDomainSchemas } from '../../../schemas';
import { generatedTypesFile, generateTypes } from '../../../schemas/codegen';

describe('generated TypeScript types', () => {
  it('schemas/generated/types.ts is up to date with schemas/*.avsc (run `npm run schemas:generate`)', () => {
    const committed = readFileSync(generatedTypesFile(), 'utf8');
    expect(committed).toBe(generateTypes());
  });

  it('the drift check can fail: a schema change changes the output', () => {
    const schemas = loadDomainSchemas().map((s) => ({
      name: s.name,
      schema: JSON.parse(JSON.stringify(s.schema)),
    }));
    const grants = schemas.find((s) => s.name === 'grants')!;
    grants.schema.fields.push({
      name: 'region',
      type: ['null', 'string'],
      default: null,
      doc: 'Data region.',
    });
    const changed = generateTypes(schemas);
    expect(changed).not.toBe(generateTypes());
    expect(changed).toContain('  /** Data region. */\n  region: string | null;\n}');
  });

  it('maps Avro to TypeScript: records, enums with UNKNOWN, nullable unions, arrays, maps', () => {
    const out = generateTypes();
    expect(out).toContain("export type MessageAction = 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';");
    expect(out).toMatch(/export interface MessageDomainEvent \{[^}]*\n {2}object_version: number;/);
    expect(out).toContain('  to: EmailParticipant[] | null;');
    expect(out).toContain('  metadata: Record<string, string> | null;');
    expect(out).toContain('export interface DomainEventValues {\n  messages: MessageDomainEvent;');
  });

  it('refuses two different types with the same name', () => {
    const a = {
      name: 'messages',
      schema: {
        type: 'record',
        name: 'A',
        doc: 'd',
        fields: [
          {
            name: 'x',
            type: {
              type: 'record',
              name: 'Dup',
              doc: 'd',
              fields: [{ name: 'a', type: 'string', doc: 'd' }],
            },
            doc: 'd',
          },
        ],
      },
    };
    const b = {
      name: 'grants',
      schema: {
        type: 'record',
        name: 'B',
        doc: 'd',
        fields: [
          {
            name: 'x',
            type: { type: 'record', name: 'Dup', doc: 'd', fields: [{ name: 'b', type: 'long', doc: 'd' }] },
            doc: 'd',
          },
        ],
      },
    };
    expect(() => generateTypes([a, b])).toThrow(
      /schemas\/grants\.avsc: type Dup differs from the one in schemas\/messages\.avsc/,
    );
  });
});
