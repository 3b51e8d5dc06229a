/**
 * encode + publish: a DomainEvent → a Kafka message in the Confluent wire format (magic byte 0, 4-byte
 * big-endian schema id, Avro binary), ARCHITECTURE.md "Processors" step 6. The schema ids come from
 * registerDomainSchemas at start-up (subject `<topic>-value`, BACKWARD_TRANSITIVE); the avsc type and the
 * 5-byte prefix are cached per topic, so the registry is never called per record. The transaction itself
 * is processors/processor.ts's job; this stage only builds the messages.
 */
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { BadInputError, ErrorCodes } from '../../lib/errors';
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
      // Not the record's fault: the topic's schema was not registered at start-up. Retriable, so the
      // batch is retried rather than dead-lettered.
      throw new Error(`no registered schema id for topic ${event.topic} (schemas/${event.schema}.avsc)`);
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
   * walk every event twice (it cost ~4 µs per event in test/bench/stages.ts).
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
