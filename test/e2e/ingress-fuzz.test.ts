/**
 * Fuzzing the live ingress (the compiled `nylas-stream ingress`, a separate process) over loopback with
 * what a hostile or broken sender can send: random bytes (as bodies and as raw TCP), random JSON with and
 * without a valid signature, huge and numerous headers, slow-loris heads and bodies, and wrong encodings
 * and framings. Bounded in count and time. Afterwards: the process never died, every exchange got a 4xx
 * (or a 503 under overload) — never a 2xx without a valid signature, never a 500 — and every record in
 * the raw topic carries a valid signature of its exact bytes (the only 200s are the signed controls).
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Admin, Kafka } from 'kafkajs';
import type { ServiceProcess } from '../../cli/up/supervisor';
import { verifySignature } from '../../ingress/signature';
import { readToEnd } from '../../lib/read-to-end';
import { headerString, testConfig, testKafka } from '../helpers/kafka';
import { type RawExchangeResult, rawExchange, requestHead } from '../helpers/raw-http';
import { hmacHex } from '../helpers/signed-payload';
import { type IngressProcess, startIngressProcess } from './harness/ingress-process';

jest.setTimeout(600_000);

let PORT = 0;
const SECRET = 'fuzz-secret-1f4c';
const PATH = '/webhooks/nylas';
const SEED = Number(process.env.NYLAS_STREAM_FUZZ_SEED ?? 4242);

interface Case {
  kind: string;
  /** The statuses this case may get; 'reject' = any 4xx or a 503. */
  expect: 'reject' | 'accept-or-reject';
  pieces: Array<Buffer | string | number>;
  timeoutMs?: number;
  endAfterSending?: boolean;
}

function post(body: Buffer, headers: Array<[string, string]>, extra: Array<[string, string]> = []): Buffer[] {
  const head = requestHead('POST', PATH, [
    ['Host', `127.0.0.1:${PORT}`],
    ['Content-Length', String(body.length)],
    ...headers,
    ...extra,
  ]);
  return [Buffer.from(head, 'latin1'), body];
}

const randomHex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const contentType = fc.constantFrom<[string, string] | undefined>(
  ['Content-Type', 'application/json'],
  ['Content-Type', 'text/plain'],
  ['Content-Type', 'application/cloudevents+json'],
  ['Content-Type', 'application/json; charset=utf-16'],
  undefined,
);
const signatureHeader = fc.oneof(
  randomHex64.map((h): [string, string] => ['X-Nylas-Signature', h]),
  fc.string({ maxLength: 80 }).map((h): [string, string] => ['X-Nylas-Signature', h.replace(/[\r\n]/g, '')]),
  fc.constant<[string, string] | undefined>(undefined),
);

function cases(): Case[] {
  const out: Case[] = [];
  const opts = { seed: SEED, numRuns: 1 };
  const sample = <T>(arb: fc.Arbitrary<T>, n: number) => fc.sample(arb, { ...opts, numRuns: n });

  // 1. Random bytes as the body, with random (mostly wrong) signatures and media types.
  for (const [bytes, ct, sig] of sample(
    fc.tuple(fc.uint8Array({ maxLength: 4096 }), contentType, signatureHeader),
    150,
  )) {
    const headers = [ct, sig].filter((h): h is [string, string] => h !== undefined);
    out.push({ kind: 'random bytes body', expect: 'reject', pieces: post(Buffer.from(bytes), headers) });
  }
  // 2. Random JSON: unsigned or wrongly signed (rejected), and signed controls (objects accepted,
  //    other JSON values refused as 400).
  for (const [value, sig] of sample(fc.tuple(fc.jsonValue({ maxDepth: 4 }), signatureHeader), 100)) {
    const body = Buffer.from(JSON.stringify(value));
    const headers = [['Content-Type', 'application/json'] as [string, string], sig].filter(
      (h): h is [string, string] => h !== undefined,
    );
    out.push({ kind: 'random JSON, bad signature', expect: 'reject', pieces: post(body, headers) });
  }
  for (const value of sample(fc.jsonValue({ maxDepth: 4 }), 40)) {
    const body = Buffer.from(JSON.stringify(value));
    out.push({
      kind: 'random JSON, valid signature',
      expect: 'accept-or-reject',
      pieces: post(body, [
        ['Content-Type', 'application/json'],
        ['X-Nylas-Signature', hmacHex(body, SECRET)],
      ]),
    });
  }
  // 3. Raw TCP garbage that is not HTTP at all.
  for (const bytes of sample(fc.uint8Array({ minLength: 1, maxLength: 2048 }), 40)) {
    out.push({
      kind: 'random bytes over TCP',
      expect: 'reject',
      pieces: [Buffer.from(bytes)],
      endAfterSending: true,
    });
  }
  // 4. Huge and numerous headers.
  const body = Buffer.from('{"id":"x"}');
  out.push({
    kind: 'one 64 KiB header',
    expect: 'reject',
    // In 16 KiB pieces with pauses, as the 1 MiB header below. Written whole (65.6 KiB), Node 24's
    // server resets the connection instead of answering 431 (a bare node:http server: reset 300 times of
    // 300 on Node 24.22.3, 431 300 of 300 on Node 20.20.2; in pieces 431 every time on both); this case
    // failed so once in CI on Node 24 ("error after 2 ms"). A refusal either way, but the test reads the 431.
    pieces: [
      `POST ${PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\nX-Filler: `,
      ...Array.from({ length: 4 }, () => ['a'.repeat(16_384), 50]).flat(),
      '\r\n\r\n',
      body,
    ],
  });
  out.push({
    kind: '1 MiB signature header',
    expect: 'reject',
    // Written in 64 KiB pieces with pauses, so the 431 is read before the server closes on unread
    // bytes (a close with data still arriving is a TCP reset, which would discard the answer).
    pieces: [
      `POST ${PATH} HTTP/1.1\r\nHost: x\r\nX-Nylas-Signature: `,
      ...Array.from({ length: 16 }, () => ['f'.repeat(65_536), 50]).flat(),
      '\r\n\r\n',
    ],
  });
  out.push({
    kind: '3000 headers',
    expect: 'reject',
    pieces: post(
      body,
      Array.from({ length: 3000 }, (_, i): [string, string] => [`X-H${i}`, 'v']),
    ),
  });
  out.push({
    kind: 'declared 64 MiB body',
    expect: 'reject',
    pieces: [
      requestHead('POST', PATH, [
        ['Host', 'x'],
        ['Content-Length', String(64 << 20)],
        ['X-Nylas-Signature', '0'.repeat(64)],
      ]),
      Buffer.alloc(1024),
    ],
  });
  // 5. Wrong encodings and framings.
  const json = Buffer.from(
    JSON.stringify({ specversion: '1.0', type: 'message.created', id: 'enc', data: {} }),
  );
  const sign = (b: Buffer): [string, string] => ['X-Nylas-Signature', hmacHex(b, SECRET)];
  out.push({
    kind: 'gzip declared, body plain (signed)',
    expect: 'reject',
    pieces: post(json, [['Content-Encoding', 'gzip'], sign(json)]),
  });
  out.push({
    kind: 'brotli declared',
    expect: 'reject',
    pieces: post(json, [['Content-Encoding', 'br'], sign(json)]),
  });
  out.push({
    kind: 'deflate declared',
    expect: 'reject',
    pieces: post(json, [['Content-Encoding', 'deflate'], sign(json)]),
  });
  const utf16 = Buffer.from(JSON.stringify({ id: 'u16' }), 'utf16le');
  out.push({
    kind: 'UTF-16 JSON (signed)',
    expect: 'reject',
    pieces: post(utf16, [['Content-Type', 'application/json; charset=utf-16'], sign(utf16)]),
  });
  const bomb = gzipSync(Buffer.alloc(32 << 20, 0x20));
  out.push({
    kind: 'gzip bomb (signed, 32 MiB inflated)',
    expect: 'reject',
    pieces: post(bomb, [['Content-Encoding', 'gzip'], sign(bomb)]),
  });
  out.push({
    kind: 'broken chunked framing',
    expect: 'reject',
    pieces: [
      requestHead('POST', PATH, [
        ['Host', 'x'],
        ['Transfer-Encoding', 'chunked'],
      ]),
      'zz\r\nnot a chunk\r\n0\r\n\r\n',
    ],
    endAfterSending: true,
  });
  out.push({
    kind: 'Content-Length and Transfer-Encoding',
    expect: 'reject',
    pieces: [
      requestHead('POST', PATH, [
        ['Host', 'x'],
        ['Content-Length', '5'],
        ['Transfer-Encoding', 'chunked'],
      ]),
      '5\r\nhello\r\n0\r\n\r\n',
    ],
  });
  out.push({
    kind: 'non-numeric Content-Length',
    expect: 'reject',
    pieces: [
      requestHead('POST', PATH, [
        ['Host', 'x'],
        ['Content-Length', 'abc'],
      ]),
      '{}',
    ],
  });
  // 6. Slow loris: a head that never ends, and a body that stops arriving.
  for (let i = 0; i < 4; i++) {
    const head = requestHead('POST', PATH, [
      ['Host', 'x'],
      ['Content-Length', '1000'],
    ]);
    const trickle: Array<string | number> = [];
    for (const ch of head.slice(0, -4)) trickle.push(ch, 1500);
    out.push({ kind: 'slow-loris head', expect: 'reject', pieces: trickle, timeoutMs: 150_000 });
    out.push({
      kind: 'slow-loris body',
      expect: 'reject',
      pieces: [head, ...Array.from({ length: 40 }, (_, j) => [j % 2 === 0 ? '{' : ' ', 1500]).flat()],
      timeoutMs: 150_000,
    });
  }
  return out;
}

describe('ingress under fuzzing (the compiled process, loopback)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let target: IngressProcess;
  let ingress: ServiceProcess;
  let rawTopic = '';

  beforeAll(async () => {
    kafka = testKafka(testConfig());
    admin = kafka.admin();
    await admin.connect();
    target = await startIngressProcess(admin, 'ingress-fuzz', { NYLAS_WEBHOOK_SECRETS: SECRET });
    ({ ingress, rawTopic } = target);
    PORT = target.port;
  });

  afterAll(async () => {
    await target?.stop();
    await admin?.disconnect().catch(() => undefined);
  });

  it('never crashes, refuses everything unsigned with a 4xx (or 503), and writes only validly signed records', async () => {
    const all = cases();
    const results: Array<{ c: Case; r: RawExchangeResult }> = [];
    // Slow cases run alongside the fast ones; the fast ones go 8 at a time.
    const slow = all.filter((c) => c.kind.startsWith('slow-loris'));
    const fast = all.filter((c) => !c.kind.startsWith('slow-loris'));
    const slowDone = Promise.all(
      slow.map(async (c) => {
        results.push({
          c,
          r: await rawExchange({ port: PORT, pieces: c.pieces, timeoutMs: c.timeoutMs ?? 30_000 }),
        });
      }),
    );
    for (let i = 0; i < fast.length; i += 8) {
      await Promise.all(
        fast.slice(i, i + 8).map(async (c) => {
          const r = await rawExchange({
            port: PORT,
            pieces: c.pieces,
            timeoutMs: c.timeoutMs ?? 30_000,
            endAfterSending: c.endAfterSending,
          });
          results.push({ c, r });
        }),
      );
    }
    await slowDone;

    // The process is alive and healthy.
    expect(ingress.running).toBe(true);
    expect(ingress.lastExit).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${PORT}/healthz`)).status).toBe(200);

    const byKind = new Map<string, Map<string, number>>();
    for (const { c, r } of results) {
      const m = byKind.get(c.kind) ?? new Map<string, number>();
      const key = r.status === undefined ? r.ended : String(r.status);
      m.set(key, (m.get(key) ?? 0) + 1);
      byKind.set(c.kind, m);
    }
    console.log(
      `ingress fuzz (seed ${SEED}), ${results.length} exchanges:\n${[...byKind]
        .map(([k, m]) => `  ${k.padEnd(38)} ${[...m].map(([s, n]) => `${s}×${n}`).join(' ')}`)
        .join('\n')}`,
    );

    const rejected = (s: number | undefined) => s !== undefined && ((s >= 400 && s < 500) || s === 503);
    const bad = results.filter(({ c, r }) =>
      c.expect === 'reject' ? !rejected(r.status) : !(r.status === 200 || rejected(r.status)),
    );
    expect(bad.map(({ c, r }) => `${c.kind}: ${r.status ?? r.ended} after ${r.ms} ms`)).toEqual([]);

    // The raw topic holds exactly the accepted controls, each with a valid signature of its exact bytes.
    const accepted = results.filter(({ r }) => r.status === 200).length;
    const records: Array<{ valid: boolean; id: string | undefined }> = [];
    await readToEnd(kafka, admin, { topic: rawTopic, timeoutMs: 60_000 }, (_p, m) => {
      records.push({
        valid: verifySignature(m.value ?? Buffer.alloc(0), headerString(m.headers ?? {}, 'nylas-signature'), [
          SECRET,
        ]).ok,
        id: headerString(m.headers ?? {}, 'nylas-notification-id'),
      });
    });
    expect(records.filter((r) => !r.valid)).toEqual([]);
    expect(records).toHaveLength(accepted);
    expect(accepted).toBeGreaterThan(0);
  });
});
