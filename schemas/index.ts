/**
 * The Avro domain-event contract: `schemas/*.avsc`, one file per domain topic. The files are the source
 * of truth (downstream teams read them); this module loads and validates them, maps each to its topic,
 * registers them (subject `<topic>-value`, BACKWARD_TRANSITIVE) and checks a change against the registry
 * before it ships. TypeScript types are generated from the same files (schemas/codegen.ts).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { COMPATIBILITY, type SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import type { RegistryConfig, TopicsConfig } from '../lib/config';
import { ErrorCodes, NylasStreamError } from '../lib/errors';

/** File name (without .avsc) → the TopicsConfig key of the topic its records are published to. */
export const DOMAIN_SCHEMA_TOPICS = {
  messages: 'emailMessages',
  folders: 'emailFolders',
  tracking: 'emailTracking',
  delivery: 'emailDelivery',
  events: 'calendarEvents',
  calendars: 'calendarCalendars',
  contacts: 'contacts',
  grants: 'grants',
  unmodeled: 'unmodeled',
} as const satisfies Record<string, keyof TopicsConfig>;

export type DomainSchemaName = keyof typeof DOMAIN_SCHEMA_TOPICS;
export const DOMAIN_SCHEMA_NAMES = Object.keys(DOMAIN_SCHEMA_TOPICS) as DomainSchemaName[];

export const SCHEMA_NAMESPACE = 'io.nylasstream.v1';

export interface DomainSchema {
  /** File name without .avsc, e.g. "messages". */
  name: string;
  topicKey: keyof TopicsConfig;
  /** The parsed JSON of the .avsc file, exactly as committed. */
  schema: object;
  /** avsc type built with default options (timestamp-millis read and written as epoch-ms numbers, like the
   * registry client does). */
  type: avro.Type;
}

/**
 * The fields every domain event starts with, in this order, with these types (docs/architecture.md, "Domain
 * topics"). Checked on load so a schema cannot drift from the others.
 */
export const COMMON_FIELDS: ReadonlyArray<{ name: string; type: unknown }> = [
  { name: 'event_id', type: 'string' },
  { name: 'event_type', type: 'string' },
  { name: 'nylas_type', type: 'string' },
  { name: 'grant_id', type: 'string' },
  { name: 'application_id', type: 'string' },
  { name: 'object_id', type: 'string' },
  { name: 'object_version', type: 'long' },
  { name: 'occurred_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'received_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  { name: 'nylas_notification_id', type: 'string' },
  { name: 'nylas_source', type: 'string' },
  { name: 'expanded', type: 'boolean' },
];

/** Where the .avsc files are: beside this file under jest, else the nearest ancestor's schemas/ (the
 * compiled module runs from dist/schemas or, for codegen, from dist/.codegen/schemas). */
export function schemasDir(): string {
  let dir = __dirname;
  for (;;) {
    if (existsSync(path.join(dir, 'messages.avsc'))) return dir;
    if (existsSync(path.join(dir, 'schemas', 'messages.avsc'))) return path.join(dir, 'schemas');
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new NylasStreamError(ErrorCodes.SCHEMA_INVALID, `no schemas/*.avsc found above ${__dirname}`);
}

function invalid(file: string, message: string): NylasStreamError {
  return new NylasStreamError(ErrorCodes.SCHEMA_INVALID, `${file}: ${message}`, { details: { file } });
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Contract rules beyond what avsc checks: a doc on every record, enum and field; an enum `default` so
 * readers survive new symbols; optional fields as ["null", T] with default null; timestamps as
 * timestamp-millis on long. Returns one message per problem, each naming the field path.
 */
export function lintSchema(schema: unknown): string[] {
  const issues: string[] = [];
  const visit = (type: unknown, at: string): void => {
    if (Array.isArray(type)) {
      if (type.includes('null') && type[0] !== 'null')
        issues.push(
          `${at}: "null" must be the first branch of an optional union (so its default can be null)`,
        );
      // ["null", T] is just "optional T": keep the plain field path for it.
      const branches = type.filter((t) => t !== 'null');
      if (branches.length === 1) visit(branches[0], at);
      else
        type.forEach((t, i) => {
          visit(t, `${at}<${i}>`);
        });
      return;
    }
    if (!isObject(type)) return;
    const t = type.type;
    if (t === 'record' || t === 'error') {
      const where = at === '' ? String(type.name) : at;
      if (typeof type.doc !== 'string' || type.doc.trim() === '') issues.push(`${where}: record has no doc`);
      const fields = Array.isArray(type.fields) ? type.fields : [];
      for (const field of fields) {
        if (!isObject(field)) continue;
        const p = at === '' ? String(field.name) : `${at}.${String(field.name)}`;
        if (typeof field.doc !== 'string' || field.doc.trim() === '') issues.push(`${p}: field has no doc`);
        const ft = field.type;
        if (Array.isArray(ft) && ft[0] === 'null' && !('default' in field && field.default === null))
          issues.push(`${p}: optional field must have "default": null`);
        if (
          /(_at|_time|^date|^time)$/.test(String(field.name)) &&
          !isTimestamp(ft) &&
          !/RFC 2822|YYYY-MM-DD/.test(String(field.doc))
        )
          issues.push(
            `${p}: looks like a timestamp but is not {"type":"long","logicalType":"timestamp-millis"}`,
          );
        visit(ft, p);
      }
    } else if (t === 'enum') {
      if (typeof type.doc !== 'string' || type.doc.trim() === '') issues.push(`${at}: enum has no doc`);
      const symbols = Array.isArray(type.symbols) ? type.symbols : [];
      if (typeof type.default !== 'string' || !symbols.includes(type.default))
        issues.push(
          `${at}: enum ${String(type.name)} needs a "default" symbol (e.g. UNKNOWN) so new symbols don't break readers`,
        );
    } else if (t === 'array') {
      visit(type.items, `${at}[]`);
    } else if (t === 'map') {
      visit(type.values, `${at}{}`);
    } else if (t === 'long' && type.logicalType !== undefined && type.logicalType !== 'timestamp-millis') {
      issues.push(`${at}: only timestamp-millis is used as a logical type on long`);
    }
  };
  visit(schema, '');
  return issues;
}

/** True for {"type":"long","logicalType":"timestamp-millis"}, optionally inside ["null", …]. A string named
 * like a timestamp is allowed only when its doc says it keeps Nylas's text form (RFC 2822, YYYY-MM-DD). */
function isTimestamp(t: unknown): boolean {
  const inner = Array.isArray(t) && t.length === 2 && t[0] === 'null' ? t[1] : t;
  return isObject(inner) && inner.type === 'long' && inner.logicalType === 'timestamp-millis';
}

/** Parses and validates one schema file's text. Throws SCHEMA_INVALID naming the file and the field. */
export function parseDomainSchema(name: string, text: string, file = `${name}.avsc`): DomainSchema {
  if (!(name in DOMAIN_SCHEMA_TOPICS)) {
    throw invalid(file, `"${name}" is not a domain schema; known: ${DOMAIN_SCHEMA_NAMES.join(', ')}`);
  }
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (err) {
    throw invalid(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(schema) || schema.type !== 'record') throw invalid(file, 'the top level must be a record');
  if (schema.namespace !== SCHEMA_NAMESPACE)
    throw invalid(file, `namespace must be "${SCHEMA_NAMESPACE}", got ${JSON.stringify(schema.namespace)}`);
  let type: avro.Type;
  try {
    type = avro.Type.forSchema(schema as avro.Schema);
  } catch (err) {
    throw invalid(file, `not a valid Avro schema: ${(err as Error).message}`);
  }
  const issues = lintSchema(schema);
  const fields = Array.isArray(schema.fields) ? schema.fields : [];
  COMMON_FIELDS.forEach((expected, i) => {
    const actual = fields[i];
    if (!isObject(actual) || actual.name !== expected.name) {
      issues.push(`field #${i} must be the common field "${expected.name}"`);
    } else if (JSON.stringify(actual.type) !== JSON.stringify(expected.type)) {
      issues.push(`${expected.name}: common field must have type ${JSON.stringify(expected.type)}`);
    }
  });
  if (issues.length > 0) throw invalid(file, issues.join('; '));
  return { name, topicKey: DOMAIN_SCHEMA_TOPICS[name as DomainSchemaName], schema, type };
}

let cached: DomainSchema[] | undefined;

/**
 * Loads and validates every schemas/*.avsc. A missing file, a file with no topic, or any contract
 * violation throws SCHEMA_INVALID naming the file and the field. Cached for the default directory.
 */
export function loadDomainSchemas(dir?: string): DomainSchema[] {
  if (dir === undefined && cached !== undefined) return cached;
  const from = dir ?? schemasDir();
  const files = readdirSync(from).filter((f) => f.endsWith('.avsc'));
  for (const f of files) {
    const name = f.slice(0, -'.avsc'.length);
    if (!(name in DOMAIN_SCHEMA_TOPICS)) {
      throw invalid(f, 'has no topic: add it to DOMAIN_SCHEMA_TOPICS in schemas/index.ts');
    }
  }
  const loaded = DOMAIN_SCHEMA_NAMES.map((name) => {
    const file = path.join(from, `${name}.avsc`);
    if (!existsSync(file)) throw invalid(`${name}.avsc`, `missing (expected at ${file})`);
    return parseDomainSchema(name, readFileSync(file, 'utf8'), `${name}.avsc`);
  });
  if (dir === undefined) cached = loaded;
  return loaded;
}

export function schemaByName(name: string): DomainSchema {
  const s = loadDomainSchemas().find((d) => d.name === name);
  if (!s) throw new NylasStreamError(ErrorCodes.SCHEMA_INVALID, `no domain schema named "${name}"`);
  return s;
}

/** The registry subject of a topic's values (Confluent TopicNameStrategy). */
export function subjectFor(topic: string): string {
  return `${topic}-value`;
}

/**
 * Validates `value` against the schema and returns the paths of the fields that do not conform
 * ("message.from[0].email"), empty when valid. Used by tests and to report encode failures by field path
 * (the encoder itself validates while it writes, so a valid value is never walked twice).
 */
export function invalidPaths(schema: DomainSchema | avro.Type, value: unknown): string[] {
  const type = schema instanceof avro.Type ? schema : schema.type;
  const paths: string[] = [];
  type.isValid(value, {
    errorHook: (p: string[]) => {
      paths.push(p.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]'));
    },
  });
  return paths;
}

/**
 * Registers every domain schema under `<topic>-value` with BACKWARD_TRANSITIVE compatibility. Idempotent:
 * an identical schema gets its existing id. Returns topic → schema id. An incompatible change throws
 * SCHEMA_INCOMPATIBLE naming the subject.
 */
export async function registerDomainSchemas(
  registry: SchemaRegistry,
  topics: TopicsConfig,
  schemas: DomainSchema[] = loadDomainSchemas(),
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const s of schemas) {
    const topic = topics[s.topicKey];
    const subject = subjectFor(String(topic));
    try {
      const { id } = await registry.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(s.schema) },
        { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE },
      );
      ids.set(String(topic), id);
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 409) {
        throw new NylasStreamError(
          ErrorCodes.SCHEMA_INCOMPATIBLE,
          `${subject}: schemas/${s.name}.avsc is not BACKWARD_TRANSITIVE compatible with the registered versions: ${(err as Error).message}`,
          { cause: err, details: { subject, schema: s.name } },
        );
      }
      throw new NylasStreamError(
        ErrorCodes.REGISTRY_UNAVAILABLE,
        `${subject}: registering schemas/${s.name}.avsc failed: ${(err as Error).message}`,
        { cause: err, retriable: true, details: { subject, schema: s.name } },
      );
    }
  }
  return ids;
}

export interface SchemaCheckResult {
  subject: string;
  schema: string;
  /** `new`: nothing registered yet under the subject (registering will create it). */
  status: 'compatible' | 'incompatible' | 'new';
  messages: string[];
}

/** Thrown by checkDomainSchemas when at least one schema is incompatible; carries every result. */
export class SchemaIncompatibleError extends NylasStreamError {
  constructor(readonly results: SchemaCheckResult[]) {
    const bad = results.filter((r) => r.status === 'incompatible');
    super(
      ErrorCodes.SCHEMA_INCOMPATIBLE,
      `incompatible schema change for ${bad.map((r) => `${r.subject} (schemas/${r.schema}.avsc)`).join(', ')}: ${bad
        .flatMap((r) => r.messages)
        .join('; ')}`,
      { details: { subjects: bad.map((r) => r.subject).join(',') } },
    );
  }
}

function authHeader(config: RegistryConfig): Record<string, string> {
  if (config.username === undefined || config.password === undefined) return {};
  const token = Buffer.from(`${config.username}:${config.password}`).toString('base64');
  return { authorization: `Basic ${token}` };
}

interface RegistryAnswer {
  status: number;
  text: string;
  body: { is_compatible?: boolean; messages?: unknown; error_code?: number; message?: string };
}

async function registryRequest(
  config: RegistryConfig,
  method: string,
  route: string,
  body?: unknown,
): Promise<RegistryAnswer> {
  const url = `${config.url}${route}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', ...authHeader(config) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new NylasStreamError(
      ErrorCodes.REGISTRY_UNAVAILABLE,
      `${method} ${url}: ${(err as Error).message}`,
      {
        cause: err,
        retriable: true,
      },
    );
  }
  const text = await res.text();
  let parsed: RegistryAnswer['body'] = {};
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    // Non-JSON error pages are reported with their status by the caller.
  }
  return { status: res.status, text, body: parsed };
}

/**
 * Asks the registry whether each local schema may be registered: POST
 * /compatibility/subjects/<topic>-value/versions/latest (the registry applies the subject's rule,
 * BACKWARD_TRANSITIVE). A subject with no versions yet is reported as `new`. Throws
 * SchemaIncompatibleError (code SCHEMA_INCOMPATIBLE) when any schema is not compatible, after checking all
 * of them; otherwise returns one result per schema.
 */
export async function checkDomainSchemas(
  config: RegistryConfig,
  topics: TopicsConfig,
  schemas: DomainSchema[] = loadDomainSchemas(),
): Promise<SchemaCheckResult[]> {
  const results: SchemaCheckResult[] = [];
  for (const s of schemas) {
    const subject = subjectFor(String(topics[s.topicKey]));
    const route = `/subjects/${encodeURIComponent(subject)}`;
    const versions = await registryRequest(config, 'GET', `${route}/versions`);
    if (versions.status === 404) {
      results.push({ subject, schema: s.name, status: 'new', messages: [] });
      continue;
    }
    const answer = await registryRequest(
      config,
      'POST',
      `/compatibility${route}/versions/latest?verbose=true`,
      { schema: JSON.stringify(s.schema) },
    );
    if (answer.status === 200 && typeof answer.body.is_compatible === 'boolean') {
      results.push({
        subject,
        schema: s.name,
        status: answer.body.is_compatible ? 'compatible' : 'incompatible',
        messages: Array.isArray(answer.body.messages) ? answer.body.messages.map(String) : [],
      });
    } else if (answer.status === 409 || answer.status === 422) {
      results.push({
        subject,
        schema: s.name,
        status: 'incompatible',
        messages: [answer.body.message ?? answer.text],
      });
    } else {
      throw new NylasStreamError(
        ErrorCodes.REGISTRY_UNAVAILABLE,
        `${subject}: compatibility check answered ${answer.status}: ${answer.text.slice(0, 500)}`,
        { retriable: answer.status >= 500, details: { subject, status: answer.status } },
      );
    }
  }
  if (results.some((r) => r.status === 'incompatible')) throw new SchemaIncompatibleError(results);
  return results;
}
