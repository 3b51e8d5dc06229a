/**
 * encode + publish: a DomainEvent → a Kafka message in the Confluent wire format (magic byte 0, 4-byte
 * big-endian schema id, Avro binary), docs/architecture.md "Processors" step 6. The schema ids come from
 * registerDomainSchemas at start-up (subject `<topic>-value`, BACKWARD_TRANSITIVE); the avsc type and the
 * 5-byte prefix are cached per topic, so the registry is never called per record. The transaction itself
 * is processors/processor.ts's job; this stage only builds the messages.
 */
import type avro from 'avsc';
import type { IHeaders, Message } from 'kafkajs';
import { BadInputError, ErrorCodes, NylasStreamError } from '../../lib/errors';
import { invalidPaths, schemaByName } from '../../schemas/index';
import type { DomainEvent } from '../types';

interface TopicEncoding {
  prefix: Buffer;
  type: avro.Type;
  schema: string;
}

export class DomainEventEncoder {
  private readonly byTopic = new Map<string, TopicEncoding>();
  /** Reused scratch space: each value is encoded once into it, then copied out once. */
  private scratch = Buffer.allocUnsafe(64 * 1024);

  /**
   * @param schemaIds topic → registered schema id (registerDomainSchemas)
   * @param typeOf schema name (file name in schemas/) → avsc type
   */
  constructor(
    private readonly schemaIds: ReadonlyMap<string, number>,
    private readonly typeOf: (schema: string) => avro.Type = (name) => schemaByName(name).type,
  ) {}

  private encodingFor(event: DomainEvent): TopicEncoding {
    const cached = this.byTopic.get(event.topic);
    if (cached && cached.schema === event.schema) return cached;
    const id = this.schemaIds.get(event.topic);
    if (id === undefined) {
      // A bug (start-up registers every domain topic's schema) that no retry can fix: the pipeline
      // dead-letters it re-drivably (SCHEMA_ENCODE_FAILED) rather than stall the partition on it.
      throw new NylasStreamError(
        ErrorCodes.SCHEMA_INVALID,
        `no registered schema id for topic ${event.topic} (schemas/${event.schema}.avsc)`,
        { details: { topic: event.topic, schema: event.schema } },
      );
    }
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(0, 0);
    prefix.writeUInt32BE(id, 1);
    const enc = { prefix, type: this.typeOf(event.schema), schema: event.schema };
    this.byTopic.set(event.topic, enc);
    return enc;
  }

  /**
   * Confluent-framed Avro bytes; BadInputError(SCHEMA_ENCODE_FAILED) naming the field paths. This is the
   * one place a domain value is checked against its schema: avsc's writers check every value they write
   * (type, enum symbol, union branch) and throw otherwise, so a separate isValid pass before encoding would
   * walk every event twice (test/bench/stages.ts measures it; the figure is in docs/benchmarks.md).
   */
  encode(event: DomainEvent): Buffer {
    const enc = this.encodingFor(event);
    let end: number;
    try {
      enc.prefix.copy(this.scratch, 0);
      end = enc.type.encode(event.value, this.scratch, enc.prefix.length);
      if (end < 0) {
        // Too small: avsc returns minus the number of bytes missing (not the size needed).
        this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length - end, this.scratch.length * 2));
        enc.prefix.copy(this.scratch, 0);
        end = enc.type.encode(event.value, this.scratch, enc.prefix.length);
      }
    } catch (err) {
      const paths = invalidPaths(enc.type, event.value);
      throw new BadInputError(
        ErrorCodes.SCHEMA_ENCODE_FAILED,
        `value does not conform to schemas/${event.schema}.avsc${paths.length > 0 ? ` at ${paths.join(', ')}` : ''}: ${(err as Error).message}`,
        { details: { schema: event.schema, paths: paths.join(',') } },
      );
    }
    const out = Buffer.allocUnsafe(end);
    this.scratch.copy(out, 0, 0, end);
    return out;
  }

  /** The Kafka message: key = grant id, value = the framed Avro, headers from the event. */
  message(event: DomainEvent): Message {
    return { key: event.key, value: this.encode(event), headers: event.headers };
  }
}

/** A v2 record batch's header: what a batch of one record adds to the record itself. */
const RECORD_BATCH_OVERHEAD = 61;
/** A record's own framing, at most: length, attributes, timestamp and offset deltas, key and value
 * lengths, header count (varints). */
const RECORD_OVERHEAD = 5 + 1 + 10 + 5 + 5 + 5 + 5;
/** Per header: the name and value lengths (varints). */
const HEADER_OVERHEAD = 10;

function bytesOf(v: unknown): number {
  if (Buffer.isBuffer(v)) return v.length;
  return typeof v === 'string' ? Buffer.byteLength(v) : 0;
}

/**
 * An upper bound of the bytes `m` takes as a record batch of its own, which is what the broker compares
 * with the topic's max.message.bytes (a record larger than a produce request's cut always goes alone:
 * processors/partition.ts chunksOf). Key, value and every header's name and value count in full.
 */
export function recordBatchBytes(m: Message): number {
  let bytes = RECORD_BATCH_OVERHEAD + RECORD_OVERHEAD + bytesOf(m.key) + bytesOf(m.value);
  const headers: IHeaders = m.headers ?? {};
  // for…in (own keys, as Object.entries gave), and no array around a single value: once per domain event.
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    const nameBytes = HEADER_OVERHEAD + Buffer.byteLength(name);
    if (Array.isArray(value)) for (const v of value) bytes += nameBytes + bytesOf(v);
    else bytes += nameBytes + bytesOf(value);
  }
  return bytes;
}
