/**
 * Writes to a closed stdout or stderr. `npm start | tee up.log` and Ctrl-C: the SIGINT reaches tee as
 * well, tee is gone before `up` prints its goodbye, and the write fails with EPIPE. Node reports that
 * as an 'error' event on process.stdout a tick later; with no listener it is an uncaught exception, and
 * the process dies in the middle of stopping Kafka and the registry (which run detached and so do not
 * get the terminal's SIGINT themselves).
 *
 * guardStdio() listens for those errors. A command that must finish its work when its output is gone
 * (`up`: stop what it started) registers with onStdioClosed(); when nobody has, the error is thrown
 * as before, so `nylas-stream tail … | head` still ends when head does.
 */

const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED']);
const listeners = new Set<(stream: 'stdout' | 'stderr') => void>();
const guarded = new WeakSet<NodeJS.WriteStream>();

export function guardStdio(): void {
  for (const [name, stream] of [
    ['stdout', process.stdout],
    ['stderr', process.stderr],
  ] as const) {
    if (guarded.has(stream)) continue;
    guarded.add(stream);
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (!CLOSED.has(err.code ?? '') || listeners.size === 0) throw err;
      for (const listener of listeners) listener(name);
    });
  }
}

/** Until the returned function is called, a closed stdout/stderr calls `listener` instead of ending
 * the process. */
export function onStdioClosed(listener: (stream: 'stdout' | 'stderr') => void): () => void {
  guardStdio();
  listeners.add(listener);
  return () => listeners.delete(listener);
}
