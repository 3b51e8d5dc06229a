/**
 * A kafkajs connection with no request waiting to be sent sets no timer.
 *
 * Why: kafkajs 2.2.4's RequestQueue#scheduleCheckPendingRequests (src/network/requestQueue) sets a
 * timer for `throttledUntil - Date.now()` whenever none is set, also when nothing is pending. Unthrottled,
 * `throttledUntil` is -1, so the delay is about minus the epoch: Node warns (TimeoutNegativeWarning, at
 * every start of our services on Node 24), runs it after 1 ms, and the timer's check schedules the next
 * one. Every connection so polls every millisecond for as long as it lives (kafkajs issues #1704 and
 * #1751, pull requests #1667 and #1768, unmerged). Measured here (Node 20.20.2, a scratch script): 13
 * idle connections (12 idempotent producers and an admin) called it 11,518 times a second and took
 * 228 ms of CPU in 5 s, against 76 ms with this adaptation; an idle processor (Node 24.22.3) 5.1 % of a
 * core against 2.1 %. The processor keeps a transactional producer per partition.
 *
 * What: the method returns without a timer when no request is pending. Nothing is lost: a request that
 * cannot be sent at once (in-flight limit, client-side throttling) is added to `pending` and schedules
 * its check then (RequestQueue#push), and an answer checks the queue (fulfillRequest). With requests
 * pending, kafkajs's own code runs unchanged, including its fix for a throttle ending within the
 * millisecond (#1532). Applied only to the pinned kafkajs version.
 */
import { type AdaptationStatus, hasMethod, installOnce, prototypeOf } from './adaptation';

interface RequestQueueLike {
  pending?: unknown;
}

interface RequestQueuePrototype {
  scheduleCheckPendingRequests(this: RequestQueueLike): void;
}

export interface IdleRequestQueueOptions {
  /** kafkajs's RequestQueue prototype, or a test's stand-in. */
  requestQueuePrototype?: unknown;
  kafkajsVersion?: string;
}

/** Installs the change (once per RequestQueue prototype) and says whether it is active. */
export function installIdleRequestQueue(options: IdleRequestQueueOptions = {}): AdaptationStatus {
  return installOnce({
    name: 'idle-request-queue',
    kafkajsVersion: options.kafkajsVersion,
    load: () => options.requestQueuePrototype ?? prototypeOf(require('kafkajs/src/network/requestQueue')),
    check: (value: unknown): value is RequestQueuePrototype =>
      hasMethod(value, 'scheduleCheckPendingRequests'),
    refused: "kafkajs's RequestQueue has no scheduleCheckPendingRequests()",
    apply: (proto) => {
      const schedule = proto.scheduleCheckPendingRequests;
      proto.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
        // Anything but an empty array (another shape than the one this was written against): kafkajs's own.
        if (Array.isArray(this.pending) && this.pending.length === 0) return;
        schedule.call(this);
      };
    },
  });
}
