import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NYLAS_RETRIED_STATUSES } from '../../../ingress/status';
import {
  DEAD_LETTER_REASONS,
  ErrorCodes,
  FAILURE_CODES,
  type FailureCode,
  isRedrivable,
  NylasStreamError,
} from '../../../lib/errors';
import { failureCodesMarkdown } from '../../helpers/failure-codes-doc';

const ROOT = join(__dirname, '../../..');
const entries: Array<[string, FailureCode]> = Object.entries(FAILURE_CODES);

describe('failure codes (lib/errors.ts FAILURE_CODES)', () => {
  it('has one entry per code, each code spelled as its name', () => {
    expect(Object.keys(FAILURE_CODES).sort()).toEqual(Object.keys(ErrorCodes).sort());
    for (const [name, value] of Object.entries(ErrorCodes)) expect(value).toBe(name);
  });

  it('keeps the dlq-reason strings and dlq-redrivable values on the wire', () => {
    const redrivable = Object.fromEntries(DEAD_LETTER_REASONS.map((r) => [r, isRedrivable(r)]));
    expect(redrivable).toEqual({
      MALFORMED_JSON: false,
      MALFORMED_ENVELOPE: false,
      DECOMPRESS_FAILED: false,
      ID_TOO_LONG: false,
      TOO_DEEPLY_NESTED: false,
      DECODE_FAILED: true,
      BEYOND_WINDOW: true,
      NYLAS_API_UNAUTHORIZED: true,
      NYLAS_API_DEADLINE: true,
      NYLAS_API_REJECTED: true,
      NORMALIZE_FAILED: true,
      SCHEMA_ENCODE_FAILED: true,
      EVENT_TOO_LARGE: true,
      POISON_ISOLATED: true,
    });
  });

  it('keeps the HTTP statuses the ingress answers', () => {
    const http = Object.fromEntries(
      entries.flatMap(([code, f]) => (f.http === undefined ? [] : [[code, f.http]])),
    );
    expect(http).toEqual({
      SIGNATURE_MISSING: 401,
      SIGNATURE_INVALID: 401,
      MALFORMED_JSON: 400,
      MALFORMED_ENVELOPE: 400,
      BODY_TOO_LARGE: 413,
      UNSUPPORTED_MEDIA_TYPE: 415,
      SOURCE_NOT_ALLOWED: 403,
      BODY_DEADLINE_EXCEEDED: 408,
      KAFKA_UNAVAILABLE: 503,
      ACK_TIMEOUT: 503,
      OVERLOADED: 503,
      SHUTTING_DOWN: 503,
      UNKNOWN_DESTINATION: 503,
      UNVERIFIED_BUDGET_FULL: 503,
      REQUEST_ABORTED: null,
      INTERNAL: 503,
    });
  });

  it('dead-letters no retriable code: a fault that passes is retried, never parked in the DLQ', () => {
    for (const [code, f] of entries) {
      if (f.deadLetter !== undefined) expect([code, f.retriable]).toEqual([code, false]);
    }
  });

  it('answers a retriable code with a status Nylas retries, and refuses only with one it does not', () => {
    for (const [code, f] of entries) {
      if (typeof f.http !== 'number') continue;
      expect([code, f.http < 500 || f.http === 503]).toEqual([code, true]);
      if (f.retriable) expect([code, NYLAS_RETRIED_STATUSES.has(f.http)]).toEqual([code, true]);
      if (!NYLAS_RETRIED_STATUSES.has(f.http)) expect([code, f.retriable]).toEqual([code, false]);
    }
  });

  it('gives every code the ingress raises a status (or says nobody is left to answer)', () => {
    const dir = join(ROOT, 'ingress');
    const raised = new Set<string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(dir, file), 'utf8').matchAll(/ErrorCodes\.([A-Z_]+)/g)) {
        if (m[1] !== undefined) raised.add(m[1]);
      }
    }
    expect(raised.size).toBeGreaterThan(10);
    const withoutStatus = [...raised].filter(
      (code) => entries.find(([c]) => c === code)?.[1].http === undefined,
    );
    expect(withoutStatus).toEqual([]);
  });

  it('makes a code’s retriability the default of its errors', () => {
    for (const [name, code] of Object.entries(ErrorCodes)) {
      expect([name, new NylasStreamError(code, 'x').retriable]).toEqual([
        name,
        FAILURE_CODES[code].retriable,
      ]);
    }
  });

  it('docs/failure-codes.md is the table', () => {
    const path = join(ROOT, 'docs/failure-codes.md');
    const rendered = failureCodesMarkdown();
    if (process.env.UPDATE_FAILURE_CODES_DOC === '1') writeFileSync(path, rendered);
    expect(readFileSync(path, 'utf8')).toBe(rendered);
  });
});
