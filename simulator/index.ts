/**
 * The simulator's public API: a faithful local Nylas (docs/nylas-contract.md) for tests,
 * end-to-end fault runs and benchmarks. See docs/development.md, "Simulator".
 */
export {
  ApiFaults,
  type FaultMatch,
  type FaultSpec,
  type GrantCall,
  grantCallOf,
} from './api/faults';
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
  buildOracleReport,
  type ExpectedLatest,
  type ListableState,
  type ListWindow,
  listableState,
  type NotificationRecord,
  type NotificationVerdict,
  type OracleInput,
  type OracleReport,
  recordOf,
  writeOracleReport,
} from './oracle';
export {
  DEFAULT_TRIGGER_WEIGHTS,
  DEFAULT_VARIANT_RATES,
  type ForceOptions,
  type GeneratedNotification,
  type GeneratorOptions,
  NotificationGenerator,
  type VariantRates,
} from './payloads/generator';
export { createMockNotifications } from './payloads/mock';
export {
  type BuildNotificationInput,
  buildNotification,
  grantIdOf,
  type NotificationData,
  type NotificationEnvelope,
  PreparedNotification,
  prepareNotification,
} from './payloads/notification';
export {
  SUBSCRIBABLE_TRIGGERS,
  sourceFor,
  subscriptionCandidates,
  TEST_TOOL_TRIGGERS,
} from './payloads/triggers';
export {
  applyTruncation,
  DEFAULT_NOTIFICATION_BYTE_LIMIT,
  isTruncatable,
  mustTruncate,
} from './payloads/truncation';
export { type RunScenarioOptions, runScenario, type ScenarioRun } from './scenarios/runner';
export {
  type GrantExpiryLongOptions,
  type GrantExpiryLongRun,
  type GrantOutage,
  grantExpiryLong,
  SCENARIOS,
  type Scenario,
  type ScenarioContext,
  scenarioNames,
} from './scenarios/scenarios';
export { type DispatchedOutcome, Dispatcher, type DispatcherOptions } from './sender/dispatcher';
export { DestinationHealth, type HealthOptions, type HealthStatus } from './sender/health';
export {
  DEFAULT_RETRY_DELAYS_MS,
  DEFAULT_TIMEOUT_MS,
  judgeAttempt,
  MAX_ATTEMPTS,
  parseRetryAfterMs,
  RETRIED_STATUSES,
  retryDelayMs,
} from './sender/retry-policy';
export {
  type DeliveryAttempt,
  type DeliveryOutcome,
  type OutcomeReason,
  Sender,
  type SenderOptions,
  type SendInput,
} from './sender/sender';
export {
  MOCK_WEBHOOK_SECRET,
  SIGNATURE_HEADER,
  signBody,
  signStandardWebhook,
  verifySignature,
} from './signing';
export { GENERATED_TRIGGERS, type GeneratedTrigger, type WorldChange, WorldChanges } from './world/changes';
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
