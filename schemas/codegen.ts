/**
 * Generates schemas/generated/types.ts from schemas/*.avsc, so code that builds or reads domain events is
 * checked by the compiler against the contract. Run `npm run schemas:generate` after changing a schema;
 * test/unit/schemas/codegen.test.ts fails when the committed file drifts from the schemas.
 *
 * Mapping (avsc default options, which the registry client also uses): record → interface, enum → union of
 * string literals, ["null", T] → T | null, array → T[], map → Record<string, T>, int/long/float/double →
 * number (timestamp-millis is epoch ms), bytes/fixed → Buffer. The output is already in the project's
 * biome format, so formatting never makes it drift.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { type DomainSchema, loadDomainSchemas, schemasDir } from './index';

const LINE_WIDTH = 110;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function shortName(name: string): string {
  const i = name.lastIndexOf('.');
  return i === -1 ? name : name.slice(i + 1);
}

function docComment(doc: Json | undefined, indent: string): string[] {
  if (typeof doc !== 'string' || doc === '') return [];
  return [`${indent}/** ${doc.replace(/\*\//g, '*\\/')} */`];
}

/** Emits `export type Name = 'A' | 'B';`, broken one symbol per line when it does not fit. */
function unionDeclaration(name: string, members: string[]): string[] {
  const single = `export type ${name} = ${members.join(' | ')};`;
  if (single.length <= LINE_WIDTH) return [single];
  return [
    `export type ${name} =`,
    ...members.map((m, i) => `  | ${m}${i === members.length - 1 ? ';' : ''}`),
  ];
}

class Generator {
  /** Short name → declaration lines; a name defined twice must generate identically. */
  private readonly declarations = new Map<string, { lines: string[]; from: string }>();
  private readonly order: string[] = [];

  constructor(private source: string) {}

  private declare(name: string, lines: string[]): void {
    const existing = this.declarations.get(name);
    if (existing) {
      if (existing.lines.join('\n') !== lines.join('\n')) {
        throw new Error(
          `${this.source}: type ${name} differs from the one in ${existing.from}; give one of them another name`,
        );
      }
      return;
    }
    this.declarations.set(name, { lines, from: this.source });
    this.order.push(name);
  }

  use(source: string): this {
    this.source = source;
    return this;
  }

  typeOf(type: Json, namespace: string): string {
    if (typeof type === 'string') {
      switch (type) {
        case 'null':
          return 'null';
        case 'boolean':
          return 'boolean';
        case 'int':
        case 'long':
        case 'float':
        case 'double':
          return 'number';
        case 'bytes':
          return 'Buffer';
        case 'string':
          return 'string';
        default:
          return shortName(type);
      }
    }
    if (Array.isArray(type)) {
      // `T | null` reads better than Avro's ["null", T] order.
      const members = type.map((t) => this.typeOf(t, namespace));
      return [...members.filter((m) => m !== 'null'), ...members.filter((m) => m === 'null')].join(' | ');
    }
    if (!isObject(type)) throw new Error(`${this.source}: unsupported schema node ${JSON.stringify(type)}`);
    const ns = typeof type.namespace === 'string' ? type.namespace : namespace;
    switch (type.type) {
      case 'record':
      case 'error':
        return this.record(type, ns);
      case 'enum': {
        const name = shortName(String(type.name));
        const symbols = (Array.isArray(type.symbols) ? type.symbols : []).map((s) => `'${String(s)}'`);
        this.declare(name, [...docComment(type.doc, ''), ...unionDeclaration(name, symbols)]);
        return name;
      }
      case 'fixed':
        return 'Buffer';
      case 'array': {
        const items = this.typeOf(type.items ?? null, ns);
        return /[ |]/.test(items) ? `Array<${items}>` : `${items}[]`;
      }
      case 'map':
        return `Record<string, ${this.typeOf(type.values ?? null, ns)}>`;
      default:
        return this.typeOf(type.type ?? null, ns);
    }
  }

  private record(type: JsonObject, namespace: string): string {
    const name = shortName(String(type.name));
    const body: string[] = [];
    for (const field of Array.isArray(type.fields) ? type.fields : []) {
      if (!isObject(field)) continue;
      body.push(...docComment(field.doc, '  '));
      body.push(`  ${String(field.name)}: ${this.typeOf(field.type ?? null, namespace)};`);
    }
    this.declare(name, [...docComment(type.doc, ''), `export interface ${name} {`, ...body, '}']);
    return name;
  }

  render(roots: Array<{ schema: string; type: string }>): string {
    const out = [
      '// Generated by schemas/codegen.ts from schemas/*.avsc. Do not edit: change the .avsc file and run',
      '// `npm run schemas:generate`. test/unit/schemas/codegen.test.ts fails when this file drifts.',
      '',
    ];
    for (const name of this.order) out.push(...(this.declarations.get(name)?.lines ?? []), '');
    out.push('/** The value type of each domain schema, by file name (schemas/<name>.avsc). */');
    out.push('export interface DomainEventValues {');
    for (const r of roots) out.push(`  ${r.schema}: ${r.type};`);
    out.push('}', '');
    return out.join('\n');
  }
}

/** The TypeScript source for the given schemas (all of schemas/*.avsc by default). Pure. */
export function generateTypes(
  schemas: Array<Pick<DomainSchema, 'name' | 'schema'>> = loadDomainSchemas(),
): string {
  const gen = new Generator('');
  const roots = schemas.map((s) => {
    gen.use(`schemas/${s.name}.avsc`);
    const schema = s.schema as JsonObject;
    const ns = typeof schema.namespace === 'string' ? schema.namespace : '';
    return { schema: s.name, type: gen.typeOf(schema, ns) };
  });
  return gen.render(roots);
}

/** The committed output, next to the .avsc files (also when this runs compiled from dist/). */
export function generatedTypesFile(): string {
  return path.join(schemasDir(), 'generated', 'types.ts');
}

if (require.main === module) {
  const file = generatedTypesFile();
  writeFileSync(file, generateTypes());
  console.warn(`wrote ${path.relative(process.cwd(), file)}`);
}
