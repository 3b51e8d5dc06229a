/**
 * The simulator's public API: a faithful local Nylas (nylas-webhooks-contract.md) for tests,
 * end-to-end fault runs and benchmarks. See README "Simulator".
 */
export { ApiFaults, type FaultMatch, type FaultSpec } from './api/faults';
export { type NylasApiOptions, type NylasApiServer, type RecordedRequest, startNylasApi } from './api/server';
export { type Clock, realClock, scaledClock } from './clock';
export {
  type DestinationHandle,
  type DestinationStatus,
  type ManagementOptions,
  type WebhookDestination,
  WebhookRegistry,
} from './management/webhooks';
export {
  MOCK_WEBHOOK_SECRET,
  SIGNATURE_HEADER,
  signBody,
  signStandardWebhook,
  verifySignature,
} from './signing';
export { Random } from './world/random';
export {
  type BodySpec,
  type GrantRecord,
  type GrantStatus,
  type NylasObject,
  OBJECT_KINDS,
  type ObjectKind,
} from './world/types';
export { createWorld, type FinalObjectState, World, type WorldOptions } from './world/world';
