/**
 * A small local webhook receiver for simulator tests: it answers scripted statuses (and delays, and
 * Retry-After) in order, records every request's exact bytes and headers, and answers the challenge
 * GET (or refuses it, when told to). Binds to 127.0.0.1 only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAnswer {
  status: number;
  /** Wall-clock delay before answering. */
  delayMs?: number;
  retryAfter?: string;
  body?: string;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  at: number;
}

export interface ScriptedReceiver {
  url: string;
  received: ReceivedRequest[];
  /** Answers for POSTs, consumed in order; when empty, `fallback` is used. */
  script: ScriptedAnswer[];
  fallback: ScriptedAnswer;
  /** When set, decides the answer for a POST from its body first (undefined → script/fallback). */
  answerFor: ((body: Buffer) => ScriptedAnswer | undefined) | undefined;
  /** How GET ?challenge= is answered: echo (correct), or a wrong status/body/chunked encoding. */
  challengeMode: 'echo' | 'status-404' | 'wrong-body' | 'chunked' | 'json-wrapped';
  /** Resolves once at least `n` POSTs have been received (polls the record, no sleeps). */
  waitForPosts(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startScriptedReceiver(): Promise<ScriptedReceiver> {
  const received: ReceivedRequest[] = [];
  const waiters: Array<() => void> = [];
  const state: Pick<ScriptedReceiver, 'script' | 'fallback' | 'challengeMode' | 'answerFor'> = {
    answerFor: undefined,
    script: [],
    fallback: { status: 200 },
    challengeMode: 'echo',
  };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (req.method === 'GET' && url.searchParams.has('challenge')) {
        const challenge = url.searchParams.get('challenge') ?? '';
        received.push({ method: 'GET', url: req.url ?? '', headers: req.headers, body, at: Date.now() });
        switch (state.challengeMode) {
          case 'echo':
            res.writeHead(200, {
              'Content-Type': 'text/plain',
              'Content-Length': Buffer.byteLength(challenge),
            });
            res.end(challenge);
            return;
          case 'status-404':
            res.writeHead(404).end();
            return;
          case 'wrong-body':
            res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`${challenge}x`);
            return;
          case 'json-wrapped':
            res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ challenge }));
            return;
          case 'chunked':
            res.writeHead(200, { 'Content-Type': 'text/plain' });
            res.write(challenge.slice(0, 5));
            res.end(challenge.slice(5));
            return;
        }
      }
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        at: Date.now(),
      });
      for (const w of waiters.splice(0)) w();
      const answer = state.answerFor?.(body) ?? state.script.shift() ?? state.fallback;
      const respond = (): void => {
        const headers: Record<string, string> = {};
        if (answer.retryAfter !== undefined) headers['Retry-After'] = answer.retryAfter;
        if (!res.destroyed) res.writeHead(answer.status, headers).end(answer.body ?? '');
      };
      if (answer.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          respond();
        }, answer.delayMs);
        timers.add(t);
      } else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const receiver: ScriptedReceiver = {
    url: `http://127.0.0.1:${port}/webhooks/nylas`,
    received,
    get script() {
      return state.script;
    },
    set script(v) {
      state.script = v;
    },
    get fallback() {
      return state.fallback;
    },
    set fallback(v) {
      state.fallback = v;
    },
    get answerFor() {
      return state.answerFor;
    },
    set answerFor(v) {
      state.answerFor = v;
    },
    get challengeMode() {
      return state.challengeMode;
    },
    set challengeMode(v) {
      state.challengeMode = v;
    },
    waitForPosts: async (n, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      const posts = (): ReceivedRequest[] => received.filter((r) => r.method === 'POST');
      while (posts().length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} POSTs, got ${posts().length}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 50);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return posts();
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return receiver;
}
