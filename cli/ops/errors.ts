/**
 * An operations command refusing to do something, with a message for the operator (printed without a
 * stack trace, exit code 1). Distinct from bugs, which keep their stack.
 */
export class OpsRefusal extends Error {
  override readonly name = 'OpsRefusal';
}

/** Wraps a commander action: an OpsRefusal becomes "nylas-stream: <message>" and exit code 1. */
export function refusalsToExitCode<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (err) {
      if (!(err instanceof OpsRefusal)) throw err;
      console.error(`nylas-stream: ${err.message}`);
      process.exitCode = 1;
    }
  };
}
