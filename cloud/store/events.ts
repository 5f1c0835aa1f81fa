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

/** Events reported by appliances; a resent event (same message id) is stored once. */
export class Events {
  constructor(private readonly db: CloudDb) {}

  add(applianceId: string, messageId: string, at: string, event: LinkEvent, now: Date): void {
    this.db
      .prepare(
        `INSERT OR IGNORE INTO events (appliance_id, message_id, at, kind, body, received_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(applianceId, messageId, at, event.kind, JSON.stringify(event), now.getTime());
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
