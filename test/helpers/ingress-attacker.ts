/**
 * The attacking side of test/e2e/ingress-attack.test.ts, in its own process so that its thousands of
 * sockets and timers do not slow the test's own event loop (which times the signed deliveries):
 *
 *   node test/helpers/run-ts.js test/helpers/ingress-attacker.ts <port>   (forked with an IPC channel)
 *
 * It opens the slow-loris crowd (heads trickled, bodies trickled after a complete head, silence; each
 * connection re-opened a second after the server cuts it) and a first wave of large bodies, says
 * `{ type: 'ramped' }`, sends another wave on `{ type: 'wave' }`, and on `{ type: 'stop' }` closes
 * everything and answers `{ type: 'figures', … }`.
 */
import { connect, type Socket } from 'node:net';
import { requestHead } from './raw-http';
import { hmacHex } from './signed-payload';

const PATH = '/webhooks/nylas';
/** Slow-loris connections held open at once (re-opened when cut), by kind. */
export const LORIS = { head: 2500, body: 2500, silent: 1000 };
/** Large bodies (1.4 MB, under the 2 MiB default limit) per wave, by kind. */
export const BIG_BODIES = { stalled: 150, unsigned: 75, wrongSignature: 75 };
const BIG_BYTES = 1_400_000;

export interface AttackFigures {
  type: 'figures';
  connectionsOpened: number;
  peakOpenConnections: number;
  connectionsCutByServer: number;
  largeBodies: number;
  /** "<kind> <status of the answer, or none>" → connections. */
  answersToStrangers: Record<string, number>;
}

class Attack {
  private active = true;
  private readonly sockets = new Set<Socket>();
  opened = 0;
  cut = 0;
  peakOpen = 0;
  largeBodies = 0;
  readonly statuses = new Map<string, number>();

  constructor(private readonly port: number) {}

  get open(): number {
    return this.sockets.size;
  }

  /** One connection running `script`; when the server ends it, another takes its place a second later. */
  hold(kind: string, script: (s: Socket) => void, reopen: boolean): void {
    if (!this.active) return;
    const s = connect({ host: '127.0.0.1', port: this.port });
    this.opened += 1;
    this.sockets.add(s);
    this.peakOpen = Math.max(this.peakOpen, this.sockets.size);
    let seen = '';
    s.on('connect', () => script(s));
    s.on('data', (c: Buffer) => {
      if (seen.length < 16) seen += c.toString('latin1', 0, 16);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      this.sockets.delete(s);
      const key = `${kind} ${/^HTTP\/1\.1 (\d{3})/.exec(seen)?.[1] ?? 'none'}`;
      this.statuses.set(key, (this.statuses.get(key) ?? 0) + 1);
      if (!this.active) return;
      this.cut += 1;
      if (reopen) setTimeout(() => this.hold(kind, script, reopen), 1000).unref();
    });
  }

  async stop(): Promise<void> {
    this.active = false;
    for (const s of this.sockets) s.destroy();
    while (this.sockets.size > 0) await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens `count` connections in steps, so the listen backlog is not what refuses them. */
async function ramp(count: number, open: () => void): Promise<void> {
  for (let i = 0; i < count; i += 250) {
    for (let j = i; j < Math.min(count, i + 250); j++) open();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Writes on a socket every second until it closes. */
function trickle(s: Socket, piece: string): void {
  const t = setInterval(() => s.write(piece), 1000);
  s.once('close', () => clearInterval(t));
}

export async function main(argv: string[]): Promise<void> {
  const port = Number(argv[0]);
  const send = (m: object, then?: () => void) => process.send?.(m, undefined, undefined, () => then?.());
  const attack = new Attack(port);
  const wrongSignature = hmacHex('another body', 'not-the-secret');
  const big = Buffer.alloc(BIG_BYTES, 'x');
  const bigHead = (extra: Array<[string, string]>) =>
    requestHead('POST', PATH, [
      ['Host', `127.0.0.1:${port}`],
      ['Content-Type', 'application/json'],
      ['Content-Length', String(BIG_BYTES)],
      ...extra,
    ]);
  const signedWrong: [string, string] = ['X-Nylas-Signature', wrongSignature];
  const wave = () => {
    const once = (kind: string, n: number, script: (s: Socket) => void) => {
      for (let i = 0; i < n; i++) attack.hold(kind, script, false);
      attack.largeBodies += n;
    };
    // All but the last bytes, then silence: the "stalled before their last bytes".
    once('big-stalled', BIG_BODIES.stalled, (s) =>
      s.write(Buffer.concat([Buffer.from(bigHead([signedWrong])), big.subarray(0, BIG_BYTES - 100)])),
    );
    once('big-unsigned', BIG_BODIES.unsigned, (s) => s.write(Buffer.concat([Buffer.from(bigHead([])), big])));
    once('big-wrong-signature', BIG_BODIES.wrongSignature, (s) =>
      s.write(Buffer.concat([Buffer.from(bigHead([signedWrong])), big])),
    );
  };
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'wave') wave();
    if (m.type === 'stop') {
      void attack.stop().then(() => {
        const figures: AttackFigures = {
          type: 'figures',
          connectionsOpened: attack.opened,
          peakOpenConnections: attack.peakOpen,
          connectionsCutByServer: attack.cut,
          largeBodies: attack.largeBodies,
          answersToStrangers: Object.fromEntries([...attack.statuses].sort()),
        };
        // run-ts.js exits when main resolves: only once the figures are on their way.
        send(figures, finished);
      });
    }
  });

  await ramp(LORIS.head, () =>
    attack.hold(
      'loris-head',
      (s) => {
        s.write(`POST ${PATH} HTTP/1.1\r\nHost: x\r\n`);
        trickle(s, 'X-Loris: a\r\n');
      },
      true,
    ),
  );
  await ramp(LORIS.body, () =>
    attack.hold(
      'loris-body',
      (s) => {
        s.write(bigHead([signedWrong]));
        trickle(s, 'x');
      },
      true,
    ),
  );
  await ramp(LORIS.silent, () => attack.hold('loris-silent', () => undefined, true));
  wave();
  send({ type: 'ramped', open: attack.open });
  await done;
}
