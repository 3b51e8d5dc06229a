/**
 * Schema evolution history: schemas/history/<name>/v<N>.avsc is a snapshot of every released version of
 * schemas/<name>.avsc (the newest snapshot equals the current file). BACKWARD_TRANSITIVE means the current
 * schema must read data written with EVERY snapshot; `assertReadsAll` checks that offline with avsc's
 * resolver, so an incompatible change fails the unit tests before any registry is involved.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import avro from 'avsc';
import { ErrorCodes, NylasStreamError } from '../lib/errors';
import { schemasDir } from './index';

export interface SchemaSnapshot {
  name: string;
  version: number;
  file: string;
  schema: object;
  type: avro.Type;
}

/** The snapshots of one schema, oldest first. Versions must be v1..vN without gaps. */
export function loadHistory(name: string, dir = path.join(schemasDir(), 'history')): SchemaSnapshot[] {
  const folder = path.join(dir, name);
  if (!existsSync(folder)) return [];
  const snapshots = readdirSync(folder)
    .map((f) => /^v(\d+)\.avsc$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const file = path.join(folder, m[0]);
      const schema = JSON.parse(readFileSync(file, 'utf8')) as object;
      return { name, version: Number(m[1]), file, schema, type: avro.Type.forSchema(schema as avro.Schema) };
    })
    .sort((a, b) => a.version - b.version);
  snapshots.forEach((s, i) => {
    if (s.version !== i + 1) {
      throw new NylasStreamError(
        ErrorCodes.SCHEMA_INVALID,
        `schemas/history/${name}: expected v${i + 1}.avsc, found v${s.version}.avsc (versions must have no gaps)`,
      );
    }
  });
  return snapshots;
}

/** Canonical text of a schema, for "is the current file the newest snapshot?" comparisons. */
export function canonical(schema: object): string {
  return JSON.stringify(schema);
}

/**
 * Throws SCHEMA_INCOMPATIBLE unless `reader` can read every one of `samples` written with `writer`:
 * the avsc resolver must exist (field added without default, changed type, enum without default that lost
 * a symbol… all fail here) and each sample must decode into a value valid for `reader`.
 */
export function assertReads(reader: avro.Type, writer: avro.Type, samples: unknown[], label: string): void {
  let resolver: avro.Resolver;
  try {
    resolver = reader.createResolver(writer);
  } catch (err) {
    throw new NylasStreamError(
      ErrorCodes.SCHEMA_INCOMPATIBLE,
      `${label}: cannot read: ${(err as Error).message}`,
    );
  }
  samples.forEach((sample, i) => {
    let decoded: unknown;
    try {
      decoded = reader.fromBuffer(writer.toBuffer(sample), resolver);
    } catch (err) {
      throw new NylasStreamError(
        ErrorCodes.SCHEMA_INCOMPATIBLE,
        `${label}: sample #${i} does not decode: ${(err as Error).message}`,
      );
    }
    if (!reader.isValid(decoded)) {
      throw new NylasStreamError(
        ErrorCodes.SCHEMA_INCOMPATIBLE,
        `${label}: sample #${i} decodes to an invalid value`,
      );
    }
  });
}
