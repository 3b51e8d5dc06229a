/**
 * How `up` stops what it started: every step runs, in order, whatever happened to the steps before it
 * or to the terminal. A failed step is reported and the next one runs; a report that cannot be printed
 * (stdout closed) is dropped. Kafka and the registry run detached, so if this sequence does not reach
 * its last step nothing else will stop them.
 */
import { onStdioClosed } from '../stdio';

export interface ShutdownStep {
  /** Shown when the step fails. */
  name: string;
  /** Printed before the step runs. */
  say?: string;
  run: () => Promise<unknown> | undefined;
}

export async function runShutdown(
  steps: readonly ShutdownStep[],
  print: (line: string) => void,
): Promise<void> {
  const say = (line: string) => {
    try {
      print(line);
    } catch {
      // Nobody is reading any more; the steps matter more than the words.
    }
  };
  for (const step of steps) {
    if (step.say !== undefined) say(step.say);
    try {
      await step.run();
    } catch (err) {
      say(`  ${step.name}: ${String(err)}`);
    }
  }
}

export interface StopRequest {
  /** Resolves on the first SIGINT or SIGTERM, or when stdout/stderr is closed under us. */
  readonly requested: Promise<void>;
  readonly isRequested: () => boolean;
  /** Puts the default signal behaviour back (call after the shutdown has finished). */
  dispose(): void;
}

/**
 * Listens for the request to stop from the start of `up` to the end of its shutdown: a Ctrl-C during
 * start-up or a second Ctrl-C during the shutdown must not kill `up` before it has stopped Kafka. A
 * closed stdout counts as a request too (the reader went away: the SIGPIPE convention, done cleanly).
 */
export function stopRequest(): StopRequest {
  let requested = false;
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  const request = () => {
    requested = true;
    resolve();
  };
  process.on('SIGINT', request);
  process.on('SIGTERM', request);
  const offStdio = onStdioClosed(request);
  return {
    requested: promise,
    isRequested: () => requested,
    dispose: () => {
      process.off('SIGINT', request);
      process.off('SIGTERM', request);
      offStdio();
    },
  };
}
