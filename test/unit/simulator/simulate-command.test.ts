/** `nylas-stream simulate …` (cli/commands/simulate.ts) and its config (simulator/config.ts). */
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerSimulateCommands } from '../../../cli/commands/simulate';
import { ConfigError } from '../../../lib/errors';
import { SUBSCRIBABLE_TRIGGERS, signBody } from '../../../simulator';
import { loadSendConfig, loadServeConfig } from '../../../simulator/config';
import { type ScriptedReceiver, startScriptedReceiver } from '../../helpers/scripted-webhook-receiver';

function program(): Command {
  const p = new Command('nylas-stream').exitOverride();
  registerSimulateCommands(p);
  return p;
}

let receiver: ScriptedReceiver;
let log: jest.SpyInstance;
let errorLog: jest.SpyInstance;
beforeEach(async () => {
  receiver = await startScriptedReceiver();
  log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  errorLog = jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(async () => {
  log.mockRestore();
  errorLog.mockRestore();
  await receiver.close();
});

describe('simulate command', () => {
  it('send delivers a burst, prints a summary and writes the oracle report', async () => {
    const report = join(tmpdir(), `sim-cli-${process.pid}.json`);
    try {
      await program().parseAsync([
        'node',
        'nylas-stream',
        'simulate',
        'send',
        '--url',
        receiver.url,
        '--secret',
        'cli-secret',
        '--count',
        '30',
        '--grants',
        '2',
        '--duplicate-rate',
        '0.2',
        '--time-scale',
        '100000',
        '--report',
        report,
      ]);
      const posts = receiver.received.filter((r) => r.method === 'POST');
      expect(posts.length).toBeGreaterThanOrEqual(30);
      for (const p of posts) expect(p.headers['x-nylas-signature']).toBe(signBody(p.body, 'cli-secret'));
      const json = JSON.parse(await readFile(report, 'utf8'));
      expect(json.summary).toMatchObject({ generated: 30, acknowledged: 30, deliveries: posts.length });
      expect(json.finalState.length).toBeGreaterThan(0);
      expect(log.mock.calls.flat().join('\n')).toMatch(/burst: 30 notifications, 30 acknowledged/);
    } finally {
      await rm(report, { force: true });
    }
  });

  it('serve answers the SDK-shaped API and, with --send-count, delivers to a destination registered through it', async () => {
    const running = program().parseAsync([
      'node',
      'nylas-stream',
      'simulate',
      'serve',
      '--grants',
      '2',
      '--send-count',
      '25',
    ]);
    let url: string | undefined;
    for (let i = 0; i < 100 && url === undefined; i++) {
      url = /NYLAS_API_URI=(\S+)/.exec(log.mock.calls.flat().join('\n'))?.[1];
      if (url === undefined) await new Promise((r) => setImmediate(r));
    }
    expect(url).toBeDefined();
    const created = await fetch(`${url}/v3/webhooks`, {
      method: 'POST',
      headers: { Authorization: 'Bearer nyk_local_simulator', 'Content-Type': 'application/json' },
      body: JSON.stringify({ trigger_types: SUBSCRIBABLE_TRIGGERS, webhook_url: receiver.url }),
    });
    expect(created.status).toBe(200);
    const secret = ((await created.json()) as { data: { webhook_secret: string } }).data.webhook_secret;
    const posts = await receiver.waitForPosts(25, 20_000);
    for (const p of posts) expect(p.headers['x-nylas-signature']).toBe(signBody(p.body, secret));
    process.emit('SIGINT');
    await running;
    expect(log.mock.calls.flat().join('\n')).toMatch(/sent \d+ deliveries, \d+ acknowledged/);
  });

  it('scenarios lists every scenario', async () => {
    await program().parseAsync(['node', 'nylas-stream', 'simulate', 'scenarios']);
    const out = log.mock.calls.flat().join('\n');
    for (const name of ['burst', 'out-of-order', 'large-messages', 'event-storm', 'grant-expiry'])
      expect(out).toContain(name);
  });

  it('mock prints a notification and its signature', async () => {
    await program().parseAsync([
      'node',
      'nylas-stream',
      'simulate',
      'mock',
      'grant.expired',
      '--secret',
      'k',
    ]);
    const body = String(log.mock.calls[0]?.[0]);
    expect(JSON.parse(body)).toMatchObject({ type: 'grant.expired', data: { object: { code: 25009 } } });
    expect(String(errorLog.mock.calls[0]?.[0])).toBe(`X-Nylas-Signature: ${signBody(body, 'k')}`);
  });
});

describe('simulate config', () => {
  it('requires a URL and a secret, naming the flag', () => {
    expect(() => loadSendConfig({}, {})).toThrow(ConfigError);
    expect(() => loadSendConfig({}, {})).toThrow(/--url/);
    expect(() => loadSendConfig({ url: 'http://127.0.0.1:1/x' }, {})).toThrow(/--secret/);
    expect(() => loadSendConfig({ url: 'ftp://x', secret: 's' }, {})).toThrow(
      /--url: expected an http\(s\) URL/,
    );
  });

  it('takes the URL and secret from the environment when no flag is given', () => {
    const c = loadSendConfig(
      {},
      { SIMULATOR_WEBHOOK_URL: 'http://127.0.0.1:9/w', SIMULATOR_WEBHOOK_SECRET: 'e' },
    );
    expect(c).toMatchObject({
      url: 'http://127.0.0.1:9/w',
      secret: 'e',
      scenario: 'burst',
      count: 1000,
      timeScale: 1,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('rejects bad numbers and shares, naming the flag', () => {
    const base = { url: 'http://127.0.0.1:9/w', secret: 's' };
    expect(() => loadSendConfig({ ...base, count: 'lots' }, {})).toThrow(/--count/);
    expect(() => loadSendConfig({ ...base, duplicateRate: '1.5' }, {})).toThrow(/--duplicate-rate/);
    expect(() => loadSendConfig({ ...base, scenario: 'nope' }, {})).toThrow(
      /--scenario: unknown scenario "nope"/,
    );
    expect(() => loadSendConfig({ ...base, timeScale: '0' }, {})).toThrow(/--time-scale/);
  });

  it('serve defaults to 127.0.0.1, a random port and a local key', () => {
    expect(loadServeConfig({}, {})).toMatchObject({
      host: '127.0.0.1',
      port: 0,
      apiKey: 'nyk_local_simulator',
      grants: 10,
    });
    expect(loadServeConfig({ apiKey: 'k2' }, { NYLAS_API_KEY: 'k1' }).apiKey).toBe('k2');
    expect(loadServeConfig({}, { NYLAS_API_KEY: 'k1', SIMULATOR_PORT: '4010' })).toMatchObject({
      apiKey: 'k1',
      port: 4010,
    });
  });
});
