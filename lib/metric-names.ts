/**
 * Every metric nylas-stream exports, in one catalog. Names and labels are public contract: the
 * Prometheus rules and the Grafana dashboard in deploy/ are built on exactly these, and a test checks
 * that every expression there names a metric listed here. Labels are bounded (family, outcome,
 * status, reason, partition) — never ids.
 */
export const METRICS = {
  // ---- ingress ----
  ingressRequests: {
    name: 'nylas_stream_ingress_requests_total',
    help: 'Webhook requests answered, by route and HTTP status.',
    type: 'counter',
    labels: ['route', 'status'],
  },
  ingressSignatureFailures: {
    name: 'nylas_stream_ingress_signature_failures_total',
    help: 'Deliveries refused because the X-Nylas-Signature was missing or did not match any secret.',
    type: 'counter',
    labels: ['reason'],
  },
  ingressAckLatency: {
    name: 'nylas_stream_ingress_ack_latency_seconds',
    help: 'Time from request received to answer, for requests written to Kafka (Nylas allows 10 s).',
    type: 'histogram',
    labels: [],
  },
  ingressPayloadBytes: {
    name: 'nylas_stream_ingress_payload_bytes',
    help: 'Size of accepted notification bodies, as received (compressed when gzip).',
    type: 'histogram',
    labels: [],
  },
  ingressInFlight: {
    name: 'nylas_stream_ingress_in_flight',
    help: 'Requests accepted and waiting for the Kafka acknowledgement.',
    type: 'gauge',
    labels: [],
  },
  ingressProducerUp: {
    name: 'nylas_stream_ingress_kafka_producer_up',
    help: '1 while the ingress Kafka producer is connected, else 0.',
    type: 'gauge',
    labels: [],
  },
  ingressBatchSize: {
    name: 'nylas_stream_ingress_batch_records',
    help: 'Records per micro-batched produce request.',
    type: 'histogram',
    labels: [],
  },
  ingressRejected: {
    name: 'nylas_stream_ingress_rejected_total',
    help: 'Refused deliveries by reason, and whether they were recorded to the rejected topic (true), dropped by its rate limit (false) or the write failed (failed).',
    type: 'counter',
    labels: ['reason', 'recorded'],
  },
  // ---- both services ----
  kafkajsAdaptationActive: {
    name: 'nylas_stream_kafkajs_adaptation_active',
    help: '1 when a run-time adaptation of kafkajs internals (lib/kafkajs/) is active, 0 when kafkajs runs as published there (another kafkajs version, a missing internal or native binding).',
    type: 'gauge',
    labels: ['adaptation'],
  },
  // ---- processor ----
  processorNotifications: {
    name: 'nylas_stream_processor_notifications_total',
    help: 'Notifications processed, by trigger family and outcome (emitted, duplicate, stale, expanded, dead_lettered).',
    type: 'counter',
    labels: ['family', 'outcome'],
  },
  processorDeadLetters: {
    name: 'nylas_stream_processor_dead_letters_total',
    help: 'Records written to the DLQ, by reason code.',
    type: 'counter',
    labels: ['reason'],
  },
  processorExpansionLatency: {
    name: 'nylas_stream_processor_expansion_latency_seconds',
    help: 'Time to fetch a truncated message from the Nylas API, retries included.',
    type: 'histogram',
    labels: ['outcome'],
  },
  processorExpansionErrors: {
    name: 'nylas_stream_processor_expansion_errors_total',
    help: 'Failed Nylas API calls during expansion, by reason (rate_limited, unavailable, unauthorized, not_found, deadline).',
    type: 'counter',
    labels: ['reason'],
  },
  processorEndToEndLatency: {
    name: 'nylas_stream_processor_end_to_end_latency_seconds',
    help: 'Time from ingress receipt (received-at header) to the domain event being committed.',
    type: 'histogram',
    labels: [],
  },
  processorConsumerLag: {
    name: 'nylas_stream_processor_consumer_lag',
    help: "Records in the raw topic past the group's committed offset, per assigned partition (read from the broker every PROCESSOR_LAG_INTERVAL, whatever the partition's worker is doing).",
    type: 'gauge',
    labels: ['partition'],
  },
  processorStateEntries: {
    name: 'nylas_stream_processor_state_entries',
    help: 'Dedupe ids and object versions held in the state store, over assigned partitions.',
    type: 'gauge',
    labels: ['kind'],
  },
  processorStateRestoreSeconds: {
    name: 'nylas_stream_processor_state_restore_seconds',
    help: 'Time to restore a partition state from the changelog topic on assignment.',
    type: 'histogram',
    labels: [],
  },
  processorStateRestores: {
    name: 'nylas_stream_processor_state_restores_total',
    help: "Partition state restores, by mode: tail (the changelog past the store's local checkpoint) or full (the whole changelog: a new or emptied disk).",
    type: 'counter',
    labels: ['mode'],
  },
  processorStateRestoredEntries: {
    name: 'nylas_stream_processor_state_restored_entries_total',
    help: 'Dedupe ids and object versions applied from the changelog by restores, by mode.',
    type: 'counter',
    labels: ['mode'],
  },
  processorStateDiskBytes: {
    name: 'nylas_stream_processor_state_disk_bytes',
    help: "Bytes on local disk (PROCESSOR_STATE_DIR) of the assigned partitions' state stores.",
    type: 'gauge',
    labels: [],
  },
  processorStateFilterBytes: {
    name: 'nylas_stream_processor_state_filter_bytes',
    help: "Heap bytes held by the state stores' segment filters (PROCESSOR_STATE_FILTER_BYTES is its ceiling).",
    type: 'gauge',
    labels: [],
  },
  processorTransactions: {
    name: 'nylas_stream_processor_transactions_total',
    help: 'Kafka transactions, by outcome (committed, aborted).',
    type: 'counter',
    labels: ['outcome'],
  },
  processorConsumerReplacements: {
    name: 'nylas_stream_processor_consumer_replacements_total',
    help: 'Consumers replaced because they crashed and did not rejoin the group within PROCESSOR_REJOIN_TIMEOUT.',
    type: 'counter',
    labels: [],
  },
  processorPartitionStalled: {
    name: 'nylas_stream_processor_partition_stalled_seconds',
    help: "Seconds an assigned partition's committed offset has not moved while records wait behind it (0 when caught up or advancing).",
    type: 'gauge',
    labels: ['partition'],
  },
  processorRoundFailures: {
    name: 'nylas_stream_processor_round_failures_total',
    help: 'Failed rounds, by kind: transient (broker or network, retried for ever) or countable (retried a bounded number of times, then the partition is bisected to isolate the record).',
    type: 'counter',
    labels: ['kind'],
  },
  processorRoundPhase: {
    name: 'nylas_stream_processor_round_phase_seconds',
    help: "Time a processing round spent in each phase: pipeline (decode to encode), produce (the transaction's records), offsets (AddOffsetsToTxn and TxnOffsetCommit), commit (EndTxn).",
    type: 'histogram',
    labels: ['phase'],
  },
  processorQueuedBytes: {
    name: 'nylas_stream_processor_queued_bytes',
    help: "Bytes of fetched records queued in the process's partition workers, as counted against PROCESSOR_MAX_QUEUED_BYTES_TOTAL (the records' bytes and their objects' estimated overhead).",
    type: 'gauge',
    labels: [],
  },
  processorExpansionHeldBytes: {
    name: 'nylas_stream_processor_expansion_held_bytes',
    help: 'Bytes of fetched truncated messages the process holds until their rounds commit, plus TOPIC_MAX_MESSAGE_BYTES reserved per expansion whose body has not arrived (kept through its retries), as counted against EXPANSION_MAX_HELD_BYTES.',
    type: 'gauge',
    labels: [],
  },
  processorExpansionWaitingCalls: {
    name: 'nylas_stream_processor_expansion_waiting_calls',
    help: 'Expansions of truncated messages waiting for room in EXPANSION_MAX_HELD_BYTES before their first Nylas API call (their objects are set aside meanwhile; other objects go on).',
    type: 'gauge',
    labels: [],
  },
  processorFetchPauses: {
    name: 'nylas_stream_processor_fetch_pauses_total',
    help: "Times a partition's fetching was paused because queued records reached a bound, by reason: partition_queue (its own PROCESSOR_MAX_QUEUED_RECORDS or _BYTES) or process_budget (PROCESSOR_MAX_QUEUED_BYTES_TOTAL).",
    type: 'counter',
    labels: ['reason'],
  },
  // ---- backfill coordinator (in the processor) ----
  backfillRequests: {
    name: 'nylas_stream_backfill_requests_total',
    help: 'Backfills requested, by reason: reauthentication (a grant re-authenticated beyond BACKFILL_HORIZON), first_auth (BACKFILL_HISTORY_DAYS), manual (`nylas-stream backfill --execute`).',
    type: 'counter',
    labels: ['reason'],
  },
  backfillNotRequested: {
    name: 'nylas_stream_backfill_not_requested_total',
    help: 'Re-authentications that requested no backfill, by why: within_horizon (Nylas backfills by itself; no list call made) or unknown_gap (no grant.expired was seen for the grant).',
    type: 'counter',
    labels: ['why'],
  },
  backfillFinished: {
    name: 'nylas_stream_backfill_finished_total',
    help: 'Backfills ended, by reason and outcome: completed, failed (the API refused a list call: see the grant state with `nylas-stream backfill --status`), cancelled (grant deleted).',
    type: 'counter',
    labels: ['reason', 'outcome'],
  },
  backfillPages: {
    name: 'nylas_stream_backfill_pages_total',
    help: 'List pages read and committed by backfills, by listing (messages, calendars, events, contacts, folders).',
    type: 'counter',
    labels: ['listing'],
  },
  backfillObjects: {
    name: 'nylas_stream_backfill_objects_total',
    help: 'Objects backfills wrote to the raw topic as notifications, by family.',
    type: 'counter',
    labels: ['family'],
  },
  backfillReconciledDeletes: {
    name: 'nylas_stream_backfill_reconciled_deletes_total',
    help: 'Known contacts, calendars and folders a completed backfill emitted as deleted because its whole re-listing no longer returned them, by family.',
    type: 'counter',
    labels: ['family'],
  },
  backfillApiCalls: {
    name: 'nylas_stream_backfill_api_calls_total',
    help: 'Nylas list calls made by backfills, by listing and outcome (ok, rate_limited, unavailable, unauthorized, not_found, rejected).',
    type: 'counter',
    labels: ['listing', 'outcome'],
  },
  backfillRunning: {
    name: 'nylas_stream_backfill_running',
    help: "Backfills running in this instance's partitions, by state: active, or blocked (the API answered 401: waiting for the grant's re-authentication).",
    type: 'gauge',
    labels: ['state'],
  },
  backfillOldestRunning: {
    name: 'nylas_stream_backfill_oldest_running_seconds',
    help: 'Age of the oldest running backfill in this instance (0 when none runs); the NylasStreamBackfillStuck alert fires when it passes an hour.',
    type: 'gauge',
    labels: [],
  },
  backfillInputsRejected: {
    name: 'nylas_stream_backfill_inputs_rejected_total',
    help: 'Records of the backfill topic the coordinator could not use (malformed fact or request), by kind; each is logged with its key and why, and tombstoned.',
    type: 'counter',
    labels: ['kind'],
  },
} as const;

export type MetricSpec = (typeof METRICS)[keyof typeof METRICS];
export const METRIC_NAMES: readonly string[] = Object.values(METRICS).map((m) => m.name);
