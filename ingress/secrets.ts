/**
 * Webhook secrets per destination. Each Nylas webhook destination has its own `webhook_secret`;
 * several may be valid at once so a rotation never opens a window of failed deliveries (install the
 * new secret, rotate in Nylas, remove the old one). Sources, merged per destination:
 *
 *   NYLAS_WEBHOOK_SECRETS        "s1,s2" or "default=s1,billing=s3" (comma or newline separated)
 *   NYLAS_WEBHOOK_SECRETS_FILE   the same text (with # comments), or JSON {"default": ["s1", "s2"], "billing": "s3"}
 *
 * The file is re-read on a timer and on demand (SIGHUP), without a restart. A file that cannot be
 * parsed keeps the previous secrets (and says so in the log): a half-written file must not lock out
 * every delivery. `mock-webhook-secret` (Nylas's "send test event") is accepted only when enabled.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../lib/logger';

/** destination name → its secrets (a frozen plain object so the config stays immutable). */
export type DestinationSecrets = Readonly<Record<string, readonly string[]>>;

export const DEFAULT_DESTINATION = 'default';
export const MOCK_WEBHOOK_SECRET = 'mock-webhook-secret';

/** A destination name as it appears in `/webhooks/nylas/:destination`. */
export const DESTINATION_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function isDestinationName(name: string): boolean {
  return DESTINATION_NAME.test(name);
}

function add(into: Record<string, string[]>, destination: string, secret: string): void {
  const list = into[destination] ?? [];
  if (!list.includes(secret)) list.push(secret);
  into[destination] = list;
}

/** "line L, column C" of a character offset: what an error may say instead of quoting the text. */
export function positionOf(text: string, offset: number): string {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return `line ${line}, column ${offset - lineStart + 1}`;
}

/** A parse error that names where, never what: the text around a mistake is usually a secret. */
export class SecretsSyntaxError extends Error {
  override readonly name = 'SecretsSyntaxError';
}

const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const JSON_ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

interface JsonScan {
  /** Offset and kind of the first syntax error, if any. */
  error?: { offset: number; problem: string };
  /** Offsets of the top-level object's keys, by key (the last one wins, as in JSON.parse). */
  keys: Map<string, number>;
}

/**
 * A JSON syntax check that says where the first mistake is. JSON.parse's own messages quote the
 * text around the mistake ("…", leaked-sec"… is not valid JSON), and a secrets file is mostly
 * secrets. Iterative (an explicit stack), so no input can overflow the call stack.
 */
function scanJson(text: string): JsonScan {
  const keys = new Map<string, number>();
  const stack: ('{' | '[')[] = [];
  let i = 0;
  let expect: 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'commaOrClose' | 'end' = 'value';
  const fail = (problem: string): JsonScan => ({ error: { offset: i, problem }, keys });
  const afterValue = () => (stack.length === 0 ? 'end' : 'commaOrClose');
  /** Scans a string starting at the quote at i; returns an error problem or undefined. */
  const string = (): string | undefined => {
    i++;
    for (;;) {
      if (i >= text.length) return 'a string is not closed';
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return 'a control character inside a string (write it as \\u00XX)';
      if (c === 0x5c) {
        JSON_ESCAPE.lastIndex = i;
        if (!JSON_ESCAPE.test(text)) return 'an invalid escape sequence inside a string';
        i = JSON_ESCAPE.lastIndex;
      } else i++;
    }
  };
  for (;;) {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
    if (i >= text.length) return expect === 'end' ? { keys } : fail('the text ends before the JSON does');
    const c = text.charAt(i);
    switch (expect) {
      case 'end':
        return fail('more text after the JSON value');
      case 'colon':
        if (c !== ':') return fail('expected ":" after a key');
        i++;
        expect = 'value';
        continue;
      case 'commaOrClose': {
        const open = stack[stack.length - 1];
        if (c === ',') {
          i++;
          expect = open === '{' ? 'key' : 'value';
          continue;
        }
        if (c !== (open === '{' ? '}' : ']'))
          return fail(open === '{' ? 'expected "," or "}"' : 'expected "," or "]"');
        stack.pop();
        i++;
        expect = afterValue();
        continue;
      }
      case 'key':
      case 'keyOrClose': {
        if (c === '}' && expect === 'keyOrClose') {
          stack.pop();
          i++;
          expect = afterValue();
          continue;
        }
        if (c !== '"') return fail('expected a key in double quotes');
        const start = i;
        const problem = string();
        if (problem !== undefined) return fail(problem);
        if (stack.length === 1) {
          try {
            keys.set(JSON.parse(text.slice(start, i)) as string, start);
          } catch {
            return fail('an invalid key');
          }
        }
        expect = 'colon';
        continue;
      }
      default: {
        if (c === ']' && expect === 'valueOrClose') {
          stack.pop();
          i++;
          expect = afterValue();
          continue;
        }
        if (c === '{' || c === '[') {
          stack.push(c);
          i++;
          expect = c === '{' ? 'keyOrClose' : 'valueOrClose';
          continue;
        }
        if (c === '"') {
          const problem = string();
          if (problem !== undefined) return fail(problem);
          expect = afterValue();
          continue;
        }
        const literal = ['true', 'false', 'null'].find((l) => text.startsWith(l, i));
        if (literal !== undefined) i += literal.length;
        else {
          JSON_NUMBER.lastIndex = i;
          if (!JSON_NUMBER.test(text))
            return fail('expected a value (a string in double quotes, a list, an object)');
          i = JSON_NUMBER.lastIndex;
        }
        expect = afterValue();
      }
    }
  }
}

/** Where a destination's key is, as "destination "billing" (line 1, column 2)"; the name only when
 * it is a valid name (anything else in a key position may be a secret pasted in the wrong place). */
function describeKey(text: string, lead: number, scan: JsonScan, key: string): string {
  const offset = scan.keys.get(key);
  const where = offset === undefined ? 'a key' : positionOf(text, lead + offset);
  return isDestinationName(key) ? `destination "${key}" (${where})` : where;
}

function parseJsonSecrets(text: string): Record<string, string[]> {
  const body = text.trim();
  const lead = text.length - text.trimStart().length;
  const scan = scanJson(body);
  if (scan.error !== undefined) {
    const { offset, problem } = scan.error;
    throw new SecretsSyntaxError(
      `not valid JSON: ${problem} at ${positionOf(text, lead + offset)} (character ${lead + offset + 1})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    // The scan accepted it; never pass on JSON.parse's message (it quotes the text).
    throw new SecretsSyntaxError('not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SecretsSyntaxError(
      'expected a JSON object mapping destination names to a secret or a list of secrets',
    );
  }
  const out: Record<string, string[]> = {};
  for (const [destination, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!isDestinationName(destination))
      throw new SecretsSyntaxError(
        `${describeKey(text, lead, scan, destination)}: the key is not a valid destination name`,
      );
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' || v.trim() === '')
        throw new SecretsSyntaxError(
          `${describeKey(text, lead, scan, destination)}: every secret must be a non-empty string`,
        );
      add(out, destination, v.trim());
    }
  }
  return out;
}

/**
 * Parses the secrets text (env or file). Entries are separated by commas or newlines; `#` starts a
 * comment line; an entry is `secret` (destination "default") or `destination=secret`. A bare secret
 * must therefore not contain "="; write `default=<secret>` for such a secret. Error messages name
 * positions (line and column) and, in JSON, valid destination names; never any other text of the
 * input, which is mostly secrets.
 */
export function parseSecretsText(text: string): DestinationSecrets {
  const trimmed = text.trim();
  const json = trimmed.startsWith('{') || trimmed.startsWith('[');
  const out: Record<string, string[]> = json ? parseJsonSecrets(text) : parseListSecrets(text);
  return Object.freeze(
    Object.fromEntries(Object.entries(out).map(([d, s]) => [d, Object.freeze([...s])])),
  ) as DestinationSecrets;
}

const BARE_EQUALS =
  'a bare secret that contains "=" must be written default=<secret>, or the part before "=" is read as a destination';

function parseListSecrets(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let lineStart = 0;
  for (const line of text.split('\n')) {
    const lineOffset = lineStart;
    lineStart += line.length + 1;
    if (line.trim().startsWith('#')) continue;
    let entryStart = lineOffset;
    for (const rawEntry of line.split(',')) {
      const offset = entryStart + (rawEntry.length - rawEntry.trimStart().length);
      entryStart += rawEntry.length + 1;
      const entry = rawEntry.trim();
      if (entry === '') continue;
      const eq = entry.indexOf('=');
      if (eq === -1) {
        add(out, DEFAULT_DESTINATION, entry);
        continue;
      }
      // Neither part is quoted in an error: the "destination" of a mistyped entry is often a secret.
      const where = positionOf(text, offset);
      const destination = entry.slice(0, eq).trim();
      const secret = entry.slice(eq + 1).trim();
      if (!isDestinationName(destination))
        throw new SecretsSyntaxError(
          `${where}: the part before "=" is not a valid destination name (${BARE_EQUALS})`,
        );
      if (secret === '') throw new SecretsSyntaxError(`${where}: empty secret after "="`);
      // `<base64 secret>==` written bare: the "destination" would be the secret itself.
      if (/^=+$/.test(secret))
        throw new SecretsSyntaxError(`${where}: the secret after "=" is only "=" (${BARE_EQUALS})`);
      add(out, destination, secret);
    }
  }
  return out;
}

export function mergeSecrets(...sources: DestinationSecrets[]): DestinationSecrets {
  const out: Record<string, string[]> = {};
  for (const source of sources) {
    for (const [destination, secrets] of Object.entries(source)) {
      for (const s of secrets) add(out, destination, s);
    }
  }
  return out;
}

export interface SecretStoreOptions {
  inline: DestinationSecrets;
  file: string | undefined;
  reloadIntervalMs: number;
  acceptMockSecret: boolean;
  logger: Logger;
}

export class SecretStore {
  private fromFile: DestinationSecrets = {};
  private merged: DestinationSecrets;
  private lastFileText: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;

  constructor(private readonly options: SecretStoreOptions) {
    this.merged = options.inline;
  }

  /** Reads the file once (start-up) and then every `reloadIntervalMs`. */
  async start(): Promise<void> {
    await this.reload();
    if (this.options.file !== undefined && this.timer === undefined) {
      this.timer = setInterval(() => void this.reload(), this.options.reloadIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Re-reads the secrets file now. Never throws: a bad or missing file keeps what was loaded. */
  reload(): Promise<void> {
    this.reloading ??= this.readFile().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async readFile(): Promise<void> {
    const file = this.options.file;
    if (file === undefined) return;
    const log = this.options.logger;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (this.lastFileText !== '') {
        log.warn(
          { file, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
          'webhook secrets file cannot be read; keeping the secrets loaded before',
        );
        this.lastFileText = '';
      }
      return;
    }
    if (text === this.lastFileText) return;
    try {
      this.fromFile = parseSecretsText(text);
    } catch (err) {
      log.error(
        { file, error: (err as Error).message },
        'webhook secrets file is invalid; keeping the secrets loaded before',
      );
      this.lastFileText = text;
      return;
    }
    this.lastFileText = text;
    this.merged = mergeSecrets(this.options.inline, this.fromFile);
    log.info({ file, ...this.counts() }, 'webhook secrets loaded');
  }

  /** The configured secrets of a destination (without the mock secret); empty when none. */
  configured(destination: string): readonly string[] {
    return this.merged[destination] ?? [];
  }

  /** Every secret a signature for this destination may be made with. */
  candidates(destination: string): readonly string[] {
    const configured = this.configured(destination);
    return this.options.acceptMockSecret ? [...configured, MOCK_WEBHOOK_SECRET] : configured;
  }

  destinations(): string[] {
    return Object.keys(this.merged);
  }

  /**
   * What logs say of the secrets: how many destinations and secrets, never the destination names. A
   * malformed line can turn part of a secret into a name ("A0A0A0default=…" when a separator is
   * missing: found by test/unit/ingress/secrets.fuzz.test.ts), and the parser cannot tell.
   */
  counts(): { destinations: number; secrets: number } {
    const lists = Object.values(this.merged);
    return { destinations: lists.length, secrets: lists.reduce((n, l) => n + l.length, 0) };
  }
}
