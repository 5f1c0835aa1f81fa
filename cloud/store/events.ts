import type { LinkEvent } from '../../link/schema/index.js';
import type { CloudDb } from './cloud-db.js';

export interface StoredEvent {
  seq: number;
  applianceId: string;
  at: string;
  event: LinkEvent;
  receivedAt: Date;
}

interface EventRow {
  seq: number;
  appliance_id: string;
  at: string;
  body: string;
  received_at: number;
}

/** How many events the cloud keeps, and how fast one appliance may report them. */
export interface EventLimits {
  /** The newest events kept per appliance; older ones are deleted as new ones arrive. */
  maxPerAppliance: number;
  /** Events received longer ago than this are deleted (checked at most once a minute). */
  maxAgeMs: number;
  /** Token bucket per appliance: this many events a minute, bursts up to the same number. */
  perMinute: number;
}

export const DEFAULT_EVENT_LIMITS: EventLimits = {
  maxPerAppliance: 10_000,
  maxAgeMs: 30 * 24 * 3600_000,
  perMinute: 600,
};

const AGE_SWEEP_INTERVAL_MS = 60_000;

/**
 * Events reported by appliances; a resent event (same message id) is stored once. Bounded: an
 * appliance (or a compromised one) reporting without end keeps at most `maxPerAppliance` rows and
 * is slowed to `perMinute`; nothing older than `maxAgeMs` stays.
 */
export class Events {
  private readonly buckets = new Map<string, { tokens: number; updatedMs: number }>();
  private lastAgeSweepMs = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly db: CloudDb,
    private readonly limits: EventLimits = DEFAULT_EVENT_LIMITS,
  ) {}

  /**
   * Stores the event unless the appliance is over its rate: `limited` then, and the caller leaves
   * it unacknowledged so the appliance keeps it in its journal and sends it again later.
   */
  add(applianceId: string, messageId: string, at: string, event: LinkEvent, now: Date): 'stored' | 'limited' {
    if (!this.take(applianceId, now.getTime())) return 'limited';
    const inserted = this.db
      .prepare(
        `INSERT OR IGNORE INTO events (appliance_id, message_id, at, kind, body, received_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(applianceId, messageId, at, event.kind, JSON.stringify(event), now.getTime());
    if (inserted.changes > 0) this.trim(applianceId, now.getTime());
    return 'stored';
  }

  private take(applianceId: string, nowMs: number): boolean {
    const { perMinute } = this.limits;
    const bucket = this.buckets.get(applianceId) ?? { tokens: perMinute, updatedMs: nowMs };
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((nowMs - bucket.updatedMs) / 60_000) * perMinute);
    bucket.updatedMs = nowMs;
    // Keyed by enrolled appliance ids (the link's client certificate): bounded by enrollment.
    this.buckets.set(applianceId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private trim(applianceId: string, nowMs: number): void {
    this.db
      .prepare(
        `DELETE FROM events WHERE appliance_id = ? AND seq <= (
           SELECT seq FROM events WHERE appliance_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)`,
      )
      .run(applianceId, applianceId, this.limits.maxPerAppliance);
    if (nowMs - this.lastAgeSweepMs < AGE_SWEEP_INTERVAL_MS) return;
    this.lastAgeSweepMs = nowMs;
    this.db.prepare('DELETE FROM events WHERE received_at < ?').run(nowMs - this.limits.maxAgeMs);
  }

  list(options: { afterSeq?: number; limit: number; applianceId?: string }): StoredEvent[] {
    const rows = this.db
      .prepare(
        `SELECT seq, appliance_id, at, body, received_at FROM events
         WHERE seq > ? AND (? IS NULL OR appliance_id = ?) ORDER BY seq LIMIT ?`,
      )
      .all(
        options.afterSeq ?? 0,
        options.applianceId ?? null,
        options.applianceId ?? null,
        options.limit,
      ) as EventRow[];
    return rows.map((r) => ({
      seq: r.seq,
      applianceId: r.appliance_id,
      at: r.at,
      event: JSON.parse(r.body) as LinkEvent,
      receivedAt: new Date(r.received_at),
    }));
  }
}
