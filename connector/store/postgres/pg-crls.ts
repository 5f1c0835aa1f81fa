import type { SharedCrls } from '../../ports.js';
import type { PostgresState } from './pg-state.js';

/**
 * The CRLs of a site's CA in PostgreSQL: each node that regenerates inserts its CRL under the
 * next number; the primary key lets one node's CRL have each number (a loser numbers after it,
 * see CrlPublisher), and every node serves the highest number (RFC 5280 §5.2.3: CRL numbers only
 * grow). Single statements, READ COMMITTED.
 */
export class PgCrls implements SharedCrls {
  constructor(private readonly state: PostgresState) {}

  async newest(): Promise<Buffer | undefined> {
    const { rows } = await this.state.query<{ der: Buffer }>(
      'SELECT der FROM crls ORDER BY number DESC LIMIT 1',
      [],
      {
        idempotent: true,
      },
    );
    return rows[0]?.der;
  }

  async publish(crl: { number: bigint; thisUpdate: Date; nextUpdate: Date; der: Buffer }): Promise<boolean> {
    const { rowCount } = await this.state.query(
      `INSERT INTO crls (number, this_update, next_update, der) VALUES ($1, $2, $3, $4)
       ON CONFLICT (number) DO NOTHING`,
      [crl.number.toString(), crl.thisUpdate, crl.nextUpdate, crl.der],
    );
    return rowCount === 1;
  }
}
