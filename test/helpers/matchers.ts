/**
 * `expect(buf).toBeConfluentAvro(schemaId?)`: the Confluent wire format is magic byte 0, then a
 * 4-byte big-endian schema id, then the Avro binary body.
 */
declare global {
  namespace jest {
    interface Matchers<R> {
      toBeConfluentAvro(schemaId?: number): R;
    }
  }
}

expect.extend({
  toBeConfluentAvro(received: unknown, schemaId?: number) {
    if (!Buffer.isBuffer(received)) {
      return { pass: false, message: () => `expected a Buffer, got ${typeof received}` };
    }
    if (received.length < 6) {
      return {
        pass: false,
        message: () => `expected at least 6 bytes (magic + id + body), got ${received.length}`,
      };
    }
    const magic = received.readUInt8(0);
    const id = received.readUInt32BE(1);
    const pass = magic === 0 && id > 0 && (schemaId === undefined || id === schemaId);
    return {
      pass,
      message: () =>
        pass
          ? `expected not to be Confluent-framed Avro (magic 0, schema id ${id})`
          : `expected magic byte 0 and schema id ${schemaId ?? '> 0'}, got magic ${magic} and id ${id}`,
    };
  },
});

export {};
