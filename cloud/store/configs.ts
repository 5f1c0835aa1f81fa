import type { CloudDb } from './cloud-db.js';

/** A pushed config: `{ gateway?, connector? }` sections, as the `config` message carries them. */
export interface ConfigBody {
  gateway?: Record<string, unknown>;
  connector?: Record<string, unknown>;
}

export interface StoredConfig {
  version: number;
  body: ConfigBody;
}

/** Config versions per appliance: 1, 2, 3, … — the latest is the one the appliance should run. */
export class Configs {
  constructor(private readonly db: CloudDb) {}

  add(applianceId: string, body: ConfigBody, now: Date): number {
    return this.db.transaction(() => {
      const version = (this.latestVersion(applianceId) ?? 0) + 1;
      this.db
        .prepare('INSERT INTO configs (appliance_id, version, body, created_at) VALUES (?, ?, ?, ?)')
        .run(applianceId, version, JSON.stringify(body), now.getTime());
      return version;
    })();
  }

  latestVersion(applianceId: string): number | undefined {
    const row = this.db
      .prepare('SELECT MAX(version) AS v FROM configs WHERE appliance_id = ?')
      .get(applianceId) as { v: number | null };
    return row.v ?? undefined;
  }

  latest(applianceId: string): StoredConfig | undefined {
    const row = this.db
      .prepare('SELECT version, body FROM configs WHERE appliance_id = ? ORDER BY version DESC LIMIT 1')
      .get(applianceId) as { version: number; body: string } | undefined;
    return row ? { version: row.version, body: JSON.parse(row.body) as ConfigBody } : undefined;
  }

  exists(applianceId: string, version: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM configs WHERE appliance_id = ? AND version = ?')
        .get(applianceId, version) !== undefined
    );
  }
}
