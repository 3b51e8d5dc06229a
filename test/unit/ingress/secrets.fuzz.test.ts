/**
 * Issue 13 item 7: no secret, and no fragment of one, in any output. Malformed secrets configurations
 * (env text and file contents) are generated from known secrets, broken in many ways, and fed to every
 * place that parses them: the parser, the ingress config (what the CLI prints on exit 2), the secrets
 * file re-read (its pino lines, captured), and the CLI's file editor. Every thrown message and stack,
 * every log line and the CLI's stderr is searched for any 6-character piece of any secret.
 *
 * Secrets are built from chunks "<A-Z><0-9><up to 3 of a-z - _ + />" so that every 6-character window
 * holds an upper-case letter beside a digit-bearing run: such a window cannot occur by chance in a
 * message template, a variable name or a position number, so a hit is a real leak, never a false alarm.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { main } from '../../../cli';
import {
  addSecret,
  destinationSecrets,
  forgetDestination,
  retireOldSecrets,
} from '../../../cli/ops/secrets-file';
import { loadIngressConfig } from '../../../ingress/config';
import { parseSecretsText, SecretStore } from '../../../ingress/secrets';
import { createLogger } from '../../../lib/logger';

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGIT = '0123456789';
const FILL = 'abcdefghijklmnopqrstuvwxyz-_+/';

const chunk = fc
  .tuple(
    fc.constantFrom(...UPPER),
    fc.constantFrom(...DIGIT),
    fc.array(fc.constantFrom(...FILL), { maxLength: 3 }),
  )
  .map(([u, d, rest]) => `${u}${d}${rest.join('')}`);
const secret = fc.array(chunk, { minLength: 3, maxLength: 10 }).map((c) => c.join(''));
/** Now and then a huge secret (a pasted file, a key by mistake). */
const anySecret = fc.oneof(
  { weight: 20, arbitrary: secret },
  { weight: 1, arbitrary: fc.array(chunk, { minLength: 20_000, maxLength: 30_000 }).map((c) => c.join('')) },
);
const destination = fc.constantFrom('default', 'billing', 'eu.prod', 'team_2');
const space = fc.constantFrom('', ' ', '  ', '\n', '\t', '\r\n');

interface Config {
  text: string;
  secrets: string[];
}

const jsonConfig: fc.Arbitrary<Config> = fc
  .array(fc.tuple(destination, fc.array(anySecret, { minLength: 1, maxLength: 3 }), fc.boolean(), space), {
    minLength: 1,
    maxLength: 3,
  })
  .map((entries) => ({
    text: `{${entries
      .map(
        ([d, s, asList, sp]) =>
          `${sp}"${d}":${sp}${asList || s.length > 1 ? `[${s.map((x) => `"${x}"`).join(`,${sp}`)}]` : `"${s[0]}"`}`,
      )
      .join(',')}}`,
    secrets: entries.flatMap(([, s]) => s),
  }));

const textConfig: fc.Arbitrary<Config> = fc
  .array(fc.tuple(fc.option(destination), anySecret, fc.constantFrom(',', '\n', ', ', '\r\n')), {
    minLength: 1,
    maxLength: 4,
  })
  .map((entries) => ({
    text: `# secrets\n${entries.map(([d, s, sep]) => `${d === null ? '' : `${d}=`}${s}${sep}`).join('')}`,
    secrets: entries.map(([, s]) => s),
  }));

/** "=" forms the grammar refuses: empty names, names that are not names, secrets that are all padding.
 * A bare `name=rest` whose prefix IS a valid name is not malformed: the grammar reads it as destination
 * "name" (which the start-up and reload lines do print), and docs/ingress-internals.md says to write a
 * secret that contains "=" as `default=<secret>`; no generator or mutation here writes "=" inside a text
 * secret. */
const equalsConfig: fc.Arbitrary<Config> = fc
  .tuple(secret, secret, fc.integer({ min: 0, max: 5 }), space)
  .map(([s, t, form, sp]) => {
    const forms: Config[] = [
      { text: `=${s}`, secrets: [s] },
      { text: `${s}${sp}=`, secrets: [s] },
      { text: `${s}==`, secrets: [s] }, // base64 padding of a bare secret
      { text: `${s}=${sp}==`, secrets: [s] },
      { text: `${s} ${t}=x`, secrets: [s, t] }, // a space makes the "name" invalid
      { text: `default=${s}\n+${t}=`, secrets: [s, t] },
    ];
    return forms[form] as Config;
  });

type Mutation = (text: string) => string;

const at = (text: string, i: number) => Math.min(i, text.length);

/** One way of breaking a configuration, at a position chosen by the fuzzer. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map(
    (i): Mutation =>
      (t) =>
        t.slice(0, at(t, i % (t.length + 1))),
  ), // truncated
  fc.nat().map(
    (i): Mutation =>
      (t) => {
        // one structural character removed (unbalanced quotes, brackets, missing colon or comma)
        const idx = [...t].flatMap((c, k) => ('"{}[],:'.includes(c) ? [k] : []));
        const k = idx.length === 0 ? -1 : (idx[i % idx.length] as number);
        return k === -1 ? t : t.slice(0, k) + t.slice(k + 1);
      },
  ),
  fc.tuple(fc.nat(), fc.constantFrom('"', "'", '{', '}', '[', ']', ',', ':', '\\', '\\u', '#', ' ')).map(
    ([i, c]): Mutation =>
      (t) =>
        t.slice(0, i % (t.length + 1)) + c + t.slice(i % (t.length + 1)),
  ),
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0x1f })).map(
    ([i, c]): Mutation =>
      (t) => {
        const k = i % (t.length + 1);
        return t.slice(0, k) + String.fromCharCode(c) + t.slice(k);
      },
  ),
  fc.constant<Mutation>((t) => t.replaceAll('"', "'")),
  // "=" for ":" in JSON only: in the text format `name=rest` is a well-formed entry (see equalsConfig).
  fc.constant<Mutation>((t) => (t.startsWith('{') ? t.replaceAll(':', '=') : t)),
  fc.constant<Mutation>((t) => t.replace(/"([^"]*)"\]/, '$1]')), // an unquoted last secret (the issue's case)
  fc.constant<Mutation>((t) => `${t}${' '.repeat(200_000)}x`), // huge, broken at the very end
  fc.constant<Mutation>((t) => `\uFEFF${t}`),
  fc.constant<Mutation>((t) => `${t}}`),
);

const malformed: fc.Arbitrary<Config> = fc.oneof(
  fc
    .tuple(fc.oneof(jsonConfig, textConfig), fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([c, ms]) => ({ secrets: c.secrets, text: ms.reduce((t, m) => m(t), c.text) })),
  equalsConfig,
);

function pieces(secrets: string[]): Set<string> {
  const out = new Set<string>();
  for (const s of secrets) for (let i = 0; i + 6 <= s.length; i++) out.add(s.slice(i, i + 6));
  return out;
}

function leaks(outputs: string[], secrets: string[]): string[] {
  const all = pieces(secrets);
  const found: string[] = [];
  for (const o of outputs) {
    for (let i = 0; i + 6 <= o.length; i++) {
      const p = o.slice(i, i + 6);
      if (all.has(p)) {
        found.push(`${JSON.stringify(p)} in ${JSON.stringify(o.slice(Math.max(0, i - 40), i + 46))}`);
        break;
      }
    }
  }
  return found;
}

function describeError(err: unknown): string[] {
  if (!(err instanceof Error)) return [String(err)];
  return [err.message, err.stack ?? '', ...(err.cause === undefined ? [] : describeError(err.cause))];
}

function captureThrow(f: () => unknown): string[] {
  try {
    f();
    return [];
  } catch (err) {
    return describeError(err);
  }
}

async function captureRejection(f: () => Promise<unknown>): Promise<string[]> {
  try {
    await f();
    return [];
  } catch (err) {
    return describeError(err);
  }
}

function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'fuzz', level: 'trace', destination: stream }) };
}

/** Everything the code prints or throws for this configuration, through every path that reads it. */
async function outputsFor(text: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  out.push(...captureThrow(() => parseSecretsText(text)));
  out.push(...captureThrow(() => loadIngressConfig({ NYLAS_WEBHOOK_SECRETS: text })));

  const file = join(dir, 'secrets');
  writeFileSync(file, text);
  const { lines, logger } = captureLogger();
  // The re-read: start-up with a good file, then the broken one arrives (what a half-written file does).
  writeFileSync(file, 'default=A1b');
  const store = new SecretStore({
    inline: {},
    file,
    reloadIntervalMs: 60_000,
    acceptMockSecret: false,
    logger,
  });
  await store.start();
  writeFileSync(file, text);
  await store.reload();
  store.stop();
  logger.flush();
  out.push(...lines);

  // The CLI's editor (webhooks create / rotate-secret / retire-secrets / delete --forget-secrets).
  out.push(...(await captureRejection(() => addSecret(file, 'default', 'Z9zz'))));
  writeFileSync(file, text);
  out.push(...(await captureRejection(() => retireOldSecrets(file, 'default'))));
  writeFileSync(file, text);
  out.push(...(await captureRejection(() => forgetDestination(file, 'billing'))));
  writeFileSync(file, text);
  out.push(...(await captureRejection(() => destinationSecrets(file, 'default'))));
  return out;
}

describe('secrets configurations never leak a secret', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'secrets-fuzz-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the issue's example: the error names the position, not the text", () => {
    const text = '{"default":["old-secret-ZQ81", leaked-secret-XK42]}';
    const [message = ''] = captureThrow(() => loadIngressConfig({ NYLAS_WEBHOOK_SECRETS: text }));
    expect(message).toMatch(/NYLAS_WEBHOOK_SECRETS: .*line 1, column 32/);
    for (const fragment of ['leaked', 'XK42', 'ZQ81', 'old-se', 'et-ZQ8'])
      expect(message).not.toContain(fragment);
  });

  it('the JSON check that finds the position agrees with JSON.parse', () => {
    const jsonish = fc.string({
      unit: fc.constantFrom(...'{}[]":, \t\n\\/u0123456789abcdefABeE.-+trulsn\u0001'),
    });
    // Valid JSON with one character put somewhere: the near misses where a checker goes wrong.
    const nearMiss = fc
      .tuple(fc.json(), fc.nat(), fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constantFrom(...'"\\,:]}')))
      .map(([j, i, c]) => {
        const k = i % (j.length + 1);
        return j.slice(0, k) + (typeof c === 'number' ? String.fromCharCode(c) : c) + j.slice(k);
      });
    fc.assert(
      fc.property(fc.oneof(fc.json(), nearMiss, jsonish, fc.string({ unit: 'binary' })), (body) => {
        for (const text of [body, `{"default": ${body}}`, `{"default": "x", "billing": [${body}]}`]) {
          if (!text.trim().startsWith('{') && !text.trim().startsWith('[')) continue;
          let valid = true;
          try {
            JSON.parse(text.trim()); // the parser trims first (a file may end with a newline, start with a BOM)
          } catch {
            valid = false;
          }
          const [message = ''] = captureThrow(() => parseSecretsText(text));
          if (valid) expect(message).not.toMatch(/not valid JSON/);
          else expect(message).toMatch(/^not valid JSON: .+ at line \d+, column \d+ \(character \d+\)$/);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('no 6-character piece of a secret in any error, stack or log line (fuzzed)', async () => {
    await fc.assert(
      fc.asyncProperty(malformed, async ({ text, secrets }) => {
        expect(leaks(await outputsFor(text, dir), secrets)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('the CLI prints a configuration error without the secret (stderr, exit code 2)', async () => {
    const s = 'K7abQ3cdR5ef';
    const saved = process.env.NYLAS_WEBHOOK_SECRETS;
    const stderr: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => {
      stderr.push(a.map(String).join(' '));
    });
    const savedExit = process.exitCode;
    try {
      for (const text of [`{"default":["${s}", ${s}]}`, `{"default": "${s}`, `{"default": "${s}",]}`]) {
        process.env.NYLAS_WEBHOOK_SECRETS = text;
        await expect(main(['node', 'nylas-stream', 'ingress'])).rejects.toThrow(/NYLAS_WEBHOOK_SECRETS/);
        expect(process.exitCode).toBe(2);
      }
    } finally {
      spy.mockRestore();
      process.exitCode = savedExit;
      if (saved === undefined) delete process.env.NYLAS_WEBHOOK_SECRETS;
      else process.env.NYLAS_WEBHOOK_SECRETS = saved;
    }
    expect(stderr).toHaveLength(3);
    expect(leaks(stderr, [s])).toEqual([]);
  });
});
