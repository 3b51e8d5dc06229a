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

function parseJsonSecrets(text: string): Record<string, string[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON (${(err as Error).message.replace(/"[^"]*"/g, '"…"')})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error('expected a JSON object mapping destination names to a secret or a list of secrets');
  }
  const out: Record<string, string[]> = {};
  for (const [destination, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!isDestinationName(destination)) throw new Error(`"${destination}" is not a valid destination name`);
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      if (typeof v !== 'string' || v.trim() === '')
        throw new Error(`destination "${destination}": every secret must be a non-empty string`);
      add(out, destination, v.trim());
    }
  }
  return out;
}

/**
 * Parses the secrets text (env or file). Entries are separated by commas or newlines; `#` starts a
 * comment line; an entry is `secret` (destination "default") or `destination=secret`. A bare secret
 * must therefore not contain "="; write `default=<secret>` for such a secret. Error messages name
 * positions and destinations, never a secret.
 */
export function parseSecretsText(text: string): DestinationSecrets {
  const trimmed = text.trim();
  const json = trimmed.startsWith('{') || trimmed.startsWith('[');
  const out: Record<string, string[]> = json ? parseJsonSecrets(trimmed) : parseListSecrets(trimmed);
  return Object.freeze(
    Object.fromEntries(Object.entries(out).map(([d, s]) => [d, Object.freeze([...s])])),
  ) as DestinationSecrets;
}

function parseListSecrets(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const lines = text.split(/\r?\n/);
  lines.forEach((line, lineIndex) => {
    if (line.trim().startsWith('#')) return;
    line.split(',').forEach((rawEntry, entryIndex) => {
      const entry = rawEntry.trim();
      if (entry === '') return;
      const where = `entry ${entryIndex + 1} on line ${lineIndex + 1}`;
      const eq = entry.indexOf('=');
      if (eq === -1) {
        add(out, DEFAULT_DESTINATION, entry);
        return;
      }
      const destination = entry.slice(0, eq).trim();
      const secret = entry.slice(eq + 1).trim();
      if (!isDestinationName(destination))
        throw new Error(`${where}: "${destination}" is not a valid destination name`);
      if (secret === '') throw new Error(`${where}: destination "${destination}" has an empty secret`);
      add(out, destination, secret);
    });
  });
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
    log.info(
      {
        file,
        destinations: Object.fromEntries(Object.entries(this.merged).map(([d, s]) => [d, s.length])),
      },
      'webhook secrets loaded',
    );
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
}
