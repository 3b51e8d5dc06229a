/**
 * Turns world changes into the notifications Nylas would send: the envelope (§1), `source` (§1),
 * `data.grant_id` where the contract puts it (§1), variants (§3.1) and the truncation rule (§4.1).
 * Seeded: the same world seed, start time and options give the same notifications in the same order.
 */

import { type GeneratedTrigger, type WorldChange, WorldChanges } from '../world/changes';
import { type BodySizeDistribution, DEFAULT_BODY_SIZES } from '../world/factories';
import type { Random } from '../world/random';
import { bodyJsonLength, materializeBody } from '../world/text';
import type { NylasObject, ObjectKind } from '../world/types';
import type { World } from '../world/world';
import { buildNotification, type NotificationEnvelope } from './notification';
import { sourceFor } from './triggers';
import { DEFAULT_NOTIFICATION_BYTE_LIMIT, isTruncatable, mustTruncate } from './truncation';
import { cleanedBody, legacyTrackingObject, metadataObject, transformObject } from './variants';

/** Relative frequency of each trigger in generated traffic. Mail dominates, as in a real mailbox. */
export const DEFAULT_TRIGGER_WEIGHTS: Readonly<Record<GeneratedTrigger, number>> = {
  'message.created': 300,
  'message.updated': 200,
  'message.deleted': 40,
  'message.send_success': 20,
  'message.send_failed': 5,
  'message.bounce_detected': 5,
  'message.opened': 50,
  'message.link_clicked': 25,
  'thread.replied': 15,
  'event.created': 60,
  'event.updated': 90,
  'event.deleted': 20,
  'calendar.created': 4,
  'calendar.updated': 8,
  'calendar.deleted': 2,
  'contact.updated': 40,
  'contact.deleted': 8,
  'folder.created': 6,
  'folder.updated': 6,
  'folder.deleted': 3,
  'grant.created': 0,
  'grant.updated': 2,
  'grant.expired': 2,
  'grant.deleted': 0,
  'notetaker.created': 5,
  'notetaker.updated': 4,
  'notetaker.meeting_state': 3,
  'notetaker.media': 2,
  'notetaker.deleted': 1,
};

/** Generated objects without their body are far smaller than this (bytes). */
const SIZE_MARGIN = 256 * 1024;

export interface VariantRates {
  /** Share of message.created delivered as `.cleaned` (Clean Conversations). */
  cleaned: number;
  /** Share of message/event created/updated delivered as `.transformed` (field customization). */
  transformed: number;
  /** Share of tracking delivered in the `.legacy` format. */
  legacy: number;
  /** Share of Google grants on the gmail.metadata scope (their message notifications are `.metadata`). */
  metadataGrants: number;
}

export const DEFAULT_VARIANT_RATES: VariantRates = {
  cleaned: 0.02,
  transformed: 0.02,
  legacy: 0.05,
  metadataGrants: 0.1,
};

export interface GeneratorOptions {
  world: World;
  /** Trigger weights (merged over DEFAULT_TRIGGER_WEIGHTS; 0 disables a trigger). */
  weights?: Partial<Record<GeneratedTrigger, number>>;
  bodySizes?: Partial<BodySizeDistribution>;
  variants?: Partial<VariantRates>;
  /** §4.1 / §9 #15: serialized payloads above this are truncated (message.* only). */
  truncationLimitBytes?: number;
  /** Mean simulated seconds between two changes (default 1). */
  meanGapSeconds?: number;
  /** Chance per step that an invalid grant re-authenticates (default 0.02). */
  reauthRate?: number;
}

export interface GeneratedNotification {
  /** Position in generation order (= the order changes happened in the world). */
  seq: number;
  envelope: NotificationEnvelope;
  baseType: string;
  grantId: string;
  ref?: { kind: ObjectKind; id: string };
  version?: WorldChange['version'];
  truncated: boolean;
  backfill: boolean;
}

export interface ForceOptions {
  /** Body size for message.created (e.g. over 1 MB to force `.truncated`). */
  bodySize?: number;
  cleaned?: boolean;
  transformed?: boolean;
  legacy?: boolean;
}

export class NotificationGenerator {
  readonly world: World;
  readonly changes: WorldChanges;
  private readonly rng: Random;
  private readonly idRng: Random;
  private readonly pickTrigger: () => GeneratedTrigger;
  private readonly variants: VariantRates;
  private readonly limit: number;
  private readonly meanGap: number;
  private readonly reauthRate: number;
  private readonly metadataGrants = new Set<string>();
  private readonly queue: GeneratedNotification[] = [];
  private seq = 0;

  constructor(options: GeneratorOptions) {
    this.world = options.world;
    this.rng = options.world.random.fork('traffic');
    this.idRng = options.world.random.fork('notification-ids');
    const bodySizes = { ...DEFAULT_BODY_SIZES, ...options.bodySizes };
    this.changes = new WorldChanges(options.world, options.world.random.fork('changes'), bodySizes);
    this.pickTrigger = this.rng.weightedPicker({ ...DEFAULT_TRIGGER_WEIGHTS, ...options.weights });
    this.variants = { ...DEFAULT_VARIANT_RATES, ...options.variants };
    this.limit = options.truncationLimitBytes ?? DEFAULT_NOTIFICATION_BYTE_LIMIT;
    this.meanGap = options.meanGapSeconds ?? 1;
    this.reauthRate = options.reauthRate ?? 0.02;
    const pick = options.world.random.fork('metadata-grants');
    for (const g of options.world.listGrants())
      if (g.provider === 'google' && pick.chance(this.variants.metadataGrants)) this.metadataGrants.add(g.id);
  }

  /** The next notification of ordinary traffic. */
  next(): GeneratedNotification {
    while (this.queue.length === 0) this.step();
    return this.queue.shift() as GeneratedNotification;
  }

  take(count: number): GeneratedNotification[] {
    const out: GeneratedNotification[] = [];
    for (let i = 0; i < count; i++) out.push(this.next());
    return out;
  }

  /** Applies one specific trigger now (scenarios, mock payloads). May return several notifications
   * (a re-authentication with backfill) or none (a change held while the grant is invalid). */
  force(trigger: GeneratedTrigger, grantId?: string, options: ForceOptions = {}): GeneratedNotification[] {
    const g = grantId ?? this.rng.pick(this.world.grantIds);
    let changes: WorldChange[];
    if (trigger === 'message.created' && options.bodySize !== undefined) {
      const c = this.changes.messageCreated(g, { bodySize: options.bodySize });
      changes = this.changes.isValid(g) ? [c] : [];
    } else changes = this.changes.apply(trigger, g);
    return changes.map((c) => this.toNotification(c, options));
  }

  /** Moves simulated time forward (e.g. past the 72-hour backfill limit, §7). */
  advance(seconds: number): void {
    this.world.advance(seconds);
  }

  private step(): void {
    this.world.advance(this.rng.exponential(this.meanGap));
    const invalid = this.changes.invalidGrants();
    if (invalid.length > 0 && this.rng.chance(this.reauthRate)) {
      for (const c of this.changes.apply('grant.updated', this.rng.pick(invalid)))
        this.queue.push(this.toNotification(c));
      return;
    }
    const trigger = this.pickTrigger();
    const grantId = this.rng.pick(this.world.grantIds);
    for (const c of this.changes.apply(trigger, grantId)) this.queue.push(this.toNotification(c));
  }

  private toNotification(change: WorldChange, force: ForceOptions = {}): GeneratedNotification {
    const grant = this.world.peekGrant(change.grantId);
    const base = change.type;
    const suffixes: string[] = [];
    let object: NylasObject | null = change.object ? { ...change.object } : null;
    let lazyBody = change.lazyBody;
    const isMessageObject = base === 'message.created' || base === 'message.updated';
    const isTracking =
      base === 'message.opened' || base === 'message.link_clicked' || base === 'thread.replied';
    const time = this.world.now();

    if (object && isMessageObject) {
      if (this.metadataGrants.has(change.grantId)) {
        object = metadataObject(object);
        lazyBody = undefined;
        suffixes.push('metadata');
      } else if (base === 'message.created' && (force.cleaned ?? this.rng.chance(this.variants.cleaned))) {
        if (lazyBody) object.body = cleanedBody(materializeBody(lazyBody));
        object.cleaning_status = 'success';
        lazyBody = undefined;
        suffixes.unshift('cleaned');
      }
    }
    if (
      object &&
      (isMessageObject || base === 'event.created' || base === 'event.updated') &&
      (force.transformed ?? this.rng.chance(this.variants.transformed))
    ) {
      if (lazyBody) {
        object.body = materializeBody(lazyBody);
        lazyBody = undefined;
      }
      object = transformObject(object, this.world.applicationId);
      suffixes.push('transformed');
    }
    let source = sourceFor(base, grant?.provider ?? 'google', change.sync);
    if (object && isTracking && (force.legacy ?? this.rng.chance(this.variants.legacy))) {
      object = legacyTrackingObject(base, object, time);
      suffixes.push('legacy');
      source = '/com/nylas/v2/webhooks';
    }

    let type = [base, ...suffixes].join('.');
    const envelope = buildNotification({
      type,
      source,
      id: this.idRng.uuid(),
      time,
      applicationId: this.world.applicationId,
      object,
      dataGrantId: change.dataGrantId ? change.grantId : undefined,
      dataExtras: change.dataExtras,
    });

    // §4.1: decide truncation from sizes, so a 1.5 MB body is never built just to be dropped. The
    // envelope is only measured when the body alone comes near the limit: generated objects without
    // their body stay far below SIZE_MARGIN, so smaller bodies cannot push a payload over it.
    let truncated = false;
    if (object && isTruncatable(type)) {
      const bodyLength = lazyBody
        ? bodyJsonLength(lazyBody)
        : typeof object.body === 'string'
          ? object.body.length
          : 0;
      if (bodyLength > this.limit - SIZE_MARGIN) {
        const body = object.body;
        delete object.body;
        const withoutBody = Buffer.byteLength(JSON.stringify(envelope), 'utf8');
        const total =
          withoutBody +
          ',"body":'.length +
          (lazyBody ? bodyLength : Buffer.byteLength(JSON.stringify(body), 'utf8'));
        if (mustTruncate(type, total, this.limit)) truncated = true;
        else object.body = lazyBody ? materializeBody(lazyBody) : body;
      } else if (lazyBody) object.body = materializeBody(lazyBody);
    }
    if (truncated) {
      type = `${type}.truncated`;
      envelope.type = type;
    }
    this.seq += 1;
    return {
      seq: this.seq,
      envelope,
      baseType: base,
      grantId: change.grantId,
      ref: change.ref,
      version: change.version,
      truncated,
      backfill: change.backfill === true,
    };
  }
}
