import { randomBytes } from 'node:crypto';
import type { Db } from '../database.js';

export interface PrefillOptions {
  /** Fixed clock for dates. */
  now?: Date;
  /** Every n-th row is revoked (0 = none). */
  revokedEvery?: number;
  /** DER stored per row; a short placeholder by default so 1M rows stay a few hundred MB smaller. */
  der?: Buffer;
  /** Rows per transaction (default: all in one, the fastest); smaller batches keep the WAL bounded. */
  batchSize?: number;
}

/**
 * Fills the inventory with `n` synthetic certificates for benchmarks. Serials are 16 random bytes,
 * like real issuance, but inserted in sorted order (and with not_after and transaction id rising
 * along), so every index is appended to rather than split at random pages: this is what makes
 * 1M rows a matter of seconds instead of a minute. Returns the serials written (sorted).
 */
export function prefillInventory(db: Db, n: number, opts: PrefillOptions = {}): string[] {
  const now = (opts.now ?? new Date('2025-01-01T00:00:00Z')).getTime();
  const der = opts.der ?? Buffer.alloc(64, 0x30);
  const revokedEvery = opts.revokedEvery ?? 0;
  const batchSize = Math.max(1, opts.batchSize ?? n);
  const serials = randomSerials(n);
  const insert = db.prepare(`INSERT INTO certificates
    (serial_hex, subject, sans, profile, requester, transaction_id, not_before, not_after, status,
     revoked_at, revocation_reason, thumbprint, der)
    VALUES (?, ?, '[]', 'device', 'prefill', ?, ?, ?, ?, ?, ?, ?, ?)`);
  const writeBatch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const serial = serials[i]!;
      const revoked = revokedEvery > 0 && i % revokedEvery === 0;
      insert.run(
        serial,
        `CN=device-${i},O=Prefill`,
        `prefill-${serial}`,
        now - 60_000,
        now + 365 * 86_400_000 + i * 10,
        revoked ? 'revoked' : 'valid',
        revoked ? now : null,
        revoked ? 'keyCompromise' : null,
        serial.padEnd(64, '0'),
        der,
      );
    }
  });
  const previousCache = db.pragma('cache_size', { simple: true }) as number;
  db.pragma('cache_size = -262144'); // 256 MiB while loading; restored below
  try {
    for (let from = 0; from < n; from += batchSize) writeBatch(from, Math.min(n, from + batchSize));
  } finally {
    db.pragma(`cache_size = ${previousCache}`);
  }
  return serials;
}

/** Sorted, unique, positive 16-byte serials in lower-case hex. */
function randomSerials(n: number): string[] {
  const random = randomBytes(n * 16);
  const unique = new Set<string>();
  for (let i = 0; i < n; i++) {
    const bytes = random.subarray(i * 16, (i + 1) * 16);
    bytes[0] = bytes[0]! & 0x7f || 1;
    unique.add(bytes.toString('hex'));
  }
  return [...unique].sort();
}
