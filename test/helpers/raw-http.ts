/**
 * One HTTP/1.1 exchange over a plain TCP socket, byte for byte: what fetch cannot send (garbage that is
 * not HTTP, broken chunked framing, conflicting lengths, thousands of headers) or send slowly (a
 * slow-loris trickle). Resolves with the status line's code, or none when the server closed without one.
 */
import { connect } from 'node:net';

export interface RawExchangeOptions {
  host?: string;
  port: number;
  /** Sent in order; a number is a pause in milliseconds between pieces. */
  pieces: Array<Buffer | string | number>;
  /** Give up (and destroy the socket) after this long. */
  timeoutMs: number;
  /** Half-close the sending side after the last piece (default false: keep it open like a slow client). */
  endAfterSending?: boolean;
}

export interface RawExchangeResult {
  /** The HTTP status of the first response, if one arrived. */
  status: number | undefined;
  /** How the exchange ended. */
  ended: 'response' | 'closed' | 'timeout' | 'error';
  ms: number;
  /** Bytes written before the server answered or closed. */
  written: number;
}

export function rawExchange(o: RawExchangeOptions): Promise<RawExchangeResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let written = 0;
    let received = Buffer.alloc(0);
    const socket = connect({ host: o.host ?? '127.0.0.1', port: o.port });
    const finish = (ended: RawExchangeResult['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(received.toString('latin1'));
      socket.destroy();
      resolve({
        status: m ? Number(m[1]) : undefined,
        ended: m ? 'response' : ended,
        ms: Date.now() - started,
        written,
      });
    };
    const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // The status line is all we need; the server may keep the connection open after it.
      if (received.includes('\r\n')) finish('response');
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => finish('error'));
    socket.on('connect', async () => {
      for (const piece of o.pieces) {
        if (settled || socket.destroyed) return;
        if (typeof piece === 'number') {
          await new Promise((r) => setTimeout(r, piece));
          continue;
        }
        const buf = typeof piece === 'string' ? Buffer.from(piece, 'latin1') : piece;
        const ok = socket.write(buf);
        written += buf.length;
        if (!ok) await new Promise((r) => socket.once('drain', r));
      }
      if (o.endAfterSending && !socket.destroyed) socket.end();
    });
  });
}

/** A request head (start line and headers, CRLF-terminated, blank line included). */
export function requestHead(method: string, path: string, headers: Array<[string, string]>): string {
  return `${method} ${path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
