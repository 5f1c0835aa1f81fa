import type { ApplianceRole, HealthReport } from '../../link/schema/index.js';
import type { CloudDb } from './cloud-db.js';

/** The site of appliances enrolled without one. */
export const DEFAULT_SITE = 'default';

export interface ApplianceRecord {
  id: string;
  roles: ApplianceRole[];
  /** The appliances of one site share a CA, an RA and an inventory; any of them may take a site's job. */
  site: string;
  enrolledAt: Date;
  revokedAt: Date | null;
  certSerial: string;
  certNotAfter: Date;
  version: string | null;
  lastHelloAt: Date | null;
  lastHealth: { at: Date; report: HealthReport } | null;
  configApplied: number | null;
  configRejected: { version: number; reason: string } | null;
}

interface ApplianceRow {
  id: string;
  roles: string;
  site: string;
  enrolled_at: number;
  revoked_at: number | null;
  cert_serial: string;
  cert_not_after: number;
  version: string | null;
  last_hello_at: number | null;
  last_health: string | null;
  last_health_at: number | null;
  config_applied: number | null;
  config_rejected: number | null;
  config_rejected_reason: string | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toRecord(r: ApplianceRow): ApplianceRecord {
  return {
    id: r.id,
    roles: JSON.parse(r.roles) as ApplianceRole[],
    site: r.site,
    enrolledAt: new Date(r.enrolled_at),
    revokedAt: date(r.revoked_at),
    certSerial: r.cert_serial,
    certNotAfter: new Date(r.cert_not_after),
    version: r.version,
    lastHelloAt: date(r.last_hello_at),
    lastHealth:
      r.last_health && r.last_health_at !== null
        ? { at: new Date(r.last_health_at), report: JSON.parse(r.last_health) as HealthReport }
        : null,
    configApplied: r.config_applied,
    configRejected:
      r.config_rejected !== null
        ? { version: r.config_rejected, reason: r.config_rejected_reason ?? '' }
        : null,
  };
}

/** Enrolled appliances and what they last reported. */
export class Appliances {
  constructor(private readonly db: CloudDb) {}

  add(
    a: { id: string; roles: ApplianceRole[]; site: string; certSerial: string; certNotAfter: Date },
    now: Date,
  ): void {
    this.db
      .prepare(
        'INSERT INTO appliances (id, roles, site, enrolled_at, cert_serial, cert_not_after) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(a.id, JSON.stringify(a.roles), a.site, now.getTime(), a.certSerial, a.certNotAfter.getTime());
  }

  get(id: string): ApplianceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM appliances WHERE id = ?').get(id) as ApplianceRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(): ApplianceRecord[] {
    return (this.db.prepare('SELECT * FROM appliances ORDER BY enrolled_at').all() as ApplianceRow[]).map(
      toRecord,
    );
  }

  revoke(id: string, now: Date): boolean {
    return (
      this.db
        .prepare('UPDATE appliances SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
        .run(now.getTime(), id).changes === 1
    );
  }

  recordHello(id: string, version: string, now: Date): void {
    this.db
      .prepare('UPDATE appliances SET version = ?, last_hello_at = ? WHERE id = ?')
      .run(version, now.getTime(), id);
  }

  recordHealth(id: string, report: HealthReport, now: Date): void {
    this.db
      .prepare('UPDATE appliances SET last_health = ?, last_health_at = ? WHERE id = ?')
      .run(JSON.stringify(report), now.getTime(), id);
  }

  recordCertificate(id: string, serial: string, notAfter: Date): void {
    this.db
      .prepare('UPDATE appliances SET cert_serial = ?, cert_not_after = ? WHERE id = ?')
      .run(serial, notAfter.getTime(), id);
  }

  recordConfigApplied(id: string, version: number): void {
    // A later rejection of an older version must not hide a newer success, hence MAX.
    this.db
      .prepare('UPDATE appliances SET config_applied = MAX(COALESCE(config_applied, 0), ?) WHERE id = ?')
      .run(version, id);
  }

  recordConfigRejected(id: string, version: number, reason: string): void {
    this.db
      .prepare('UPDATE appliances SET config_rejected = ?, config_rejected_reason = ? WHERE id = ?')
      .run(version, reason, id);
  }
}
