import { BadInputError, ErrorCodes, TransientError, thrownText } from '../../../lib/errors';
import {
  DLQ_HEADERS,
  deadLetterForThrown,
  deadLetterMessage,
  deadLetterOf,
} from '../../../processors/dead-letter';
import { rawRecord } from '../../helpers/raw-notifications';

describe('dead letter record', () => {
  it('keeps the original key, bytes and headers and adds what failed where', () => {
    const record = rawRecord({
      grantId: 'g1',
      offset: 41,
      partition: 3,
      topic: 'raw-x',
      body: '{oops',
      gzip: true,
    });
    const m = deadLetterMessage(
      {
        record,
        reason: 'MALFORMED_JSON',
        code: 'MALFORMED_JSON',
        message: 'body is not JSON',
        stage: 'decode',
        redrivable: false,
      },
      1_700_000_000_000,
    );
    expect(m.key).toEqual(record.key);
    expect(m.value).toBe(record.value);
    const h = m.headers as Record<string, unknown>;
    expect(h['content-encoding']).toEqual(Buffer.from('gzip'));
    expect(h['nylas-signature']).toEqual(record.headers['nylas-signature']);
    expect(h[DLQ_HEADERS.reason]).toBe('MALFORMED_JSON');
    expect(h[DLQ_HEADERS.errorCode]).toBe('MALFORMED_JSON');
    expect(h[DLQ_HEADERS.errorMessage]).toBe('body is not JSON');
    expect(h[DLQ_HEADERS.stage]).toBe('decode');
    expect(h[DLQ_HEADERS.sourceTopic]).toBe('raw-x');
    expect(h[DLQ_HEADERS.sourcePartition]).toBe('3');
    expect(h[DLQ_HEADERS.sourceOffset]).toBe('41');
    expect(h[DLQ_HEADERS.redrivable]).toBe('false');
    expect(h[DLQ_HEADERS.deadLetteredAt]).toBe('1700000000000');
  });

  it('replaces the dlq-* headers of an earlier failure when a redriven record fails again', () => {
    const record = rawRecord({
      grantId: 'g',
      offset: 1,
      body: '{}',
      extraHeaders: { 'dlq-reason': 'OLD', 'dlq-stage': 'decode' },
    });
    const m = deadLetterMessage(
      { record, reason: 'NYLAS_API_UNAUTHORIZED', message: '401', stage: 'expand', redrivable: true },
      0,
    );
    const h = m.headers as Record<string, unknown>;
    expect(h['dlq-reason']).toBe('NYLAS_API_UNAUTHORIZED');
    expect(h['dlq-stage']).toBe('expand');
    expect(h['dlq-redrivable']).toBe('true');
    expect(h['dlq-error-code']).toBe('NYLAS_API_UNAUTHORIZED');
  });
});

describe('dead letters from the failure-code table', () => {
  const record = rawRecord({ grantId: 'g', offset: 7, body: '{}' });

  it('are re-drivable as the reason says, with the reason as the code unless told', () => {
    expect(deadLetterOf(record, 'BEYOND_WINDOW', 'window', 'too old')).toEqual({
      record,
      reason: 'BEYOND_WINDOW',
      code: 'BEYOND_WINDOW',
      message: 'too old',
      stage: 'window',
      redrivable: true,
    });
    expect(deadLetterOf(record, 'ID_TOO_LONG', 'decode', 'long', 'X')).toMatchObject({
      code: 'X',
      redrivable: false,
    });
  });

  it('turn a stage exception into the record’s dead letter, and rethrow one a retry can fix', () => {
    const bug = deadLetterForThrown(record, new TypeError('encoder bug'), 'SCHEMA_ENCODE_FAILED', 'encode');
    expect(bug).toMatchObject({
      reason: 'SCHEMA_ENCODE_FAILED',
      code: 'INTERNAL',
      message: 'encode threw TypeError: encoder bug',
      stage: 'encode',
      redrivable: true,
    });
    const ours = new BadInputError(ErrorCodes.NORMALIZE_FAILED, 'no object id');
    expect(deadLetterForThrown(record, ours, 'NORMALIZE_FAILED', 'normalize')).toMatchObject({
      code: 'NORMALIZE_FAILED',
      message: 'no object id',
    });
    const transient = new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'later');
    expect(() => deadLetterForThrown(record, transient, 'NORMALIZE_FAILED', 'normalize')).toThrow(transient);
  });

  it('name what was thrown even when it is not an Error', () => {
    expect(thrownText(new RangeError('deep'))).toBe('RangeError: deep');
    expect(thrownText('text')).toBe('undefined: undefined');
    expect(thrownText({ name: 'Odd', message: 'thing' })).toBe('Odd: thing');
  });
});
