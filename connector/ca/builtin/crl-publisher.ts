import { buildCrl, parseCrlInfo } from '../../../certs/crl.js';
import type { HashName } from '../../../certs/signer.js';
import type { Inventory } from '../../ports.js';
import { CaFiles, pathIn, readIfExists, writeFileAtomic } from './files.js';
import type { KeyedCertificate } from './material.js';

interface CrlState {
  der: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}

/**
 * Keeps the CA's current CRL in memory and on disk (`crl.der`). Regenerations are serialized, so CRL
 * numbers strictly increase (RFC 5280 §5.2.3) even when revocations and the refresh timer overlap.
 */
export class CrlPublisher {
  private state: CrlState | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly ca: KeyedCertificate,
    private readonly inventory: Inventory,
    private readonly validityMs: number,
    private readonly hash: HashName,
  ) {}

  /** Resumes from `crl.der` when it exists and is ours; regenerates otherwise. */
  async load(now: Date): Promise<void> {
    const der = await readIfExists(pathIn(this.dir, CaFiles.crl));
    if (der) {
      try {
        const info = parseCrlInfo(der);
        this.state = {
          der,
          number: info.crlNumber ?? 0n,
          thisUpdate: info.thisUpdate,
          nextUpdate: info.nextUpdate ?? info.thisUpdate,
        };
      } catch {
        this.state = undefined; // unreadable: replaced below
      }
    }
    if (!this.state) await this.regenerate(now);
  }

  /**
   * Adopts `crl.der` when another process (an `outpost certs revoke` run) wrote a newer one:
   * CRL numbers only grow, so a higher number on disk means ours is stale.
   */
  reloadIfNewer(): Promise<boolean> {
    const run = this.queue.then(async () => {
      const der = await readIfExists(pathIn(this.dir, CaFiles.crl));
      if (!der || (this.state && der.equals(this.state.der))) return false;
      const info = parseCrlInfo(der);
      const number = info.crlNumber ?? 0n;
      if (this.state && number <= this.state.number) return false;
      this.state = {
        der,
        number,
        thisUpdate: info.thisUpdate,
        nextUpdate: info.nextUpdate ?? info.thisUpdate,
      };
      return true;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  current(): Buffer | undefined {
    return this.state?.der;
  }

  /** Builds, signs and atomically persists a new CRL from the inventory's revoked entries. */
  regenerate(now: Date): Promise<Buffer> {
    const run = this.queue.then(() => this.regenerateNow(now));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Regenerates when less than half of the current CRL's lifetime remains. */
  async refreshIfDue(now: Date): Promise<boolean> {
    const s = this.state;
    if (s) {
      const half = s.thisUpdate.getTime() + (s.nextUpdate.getTime() - s.thisUpdate.getTime()) / 2;
      if (now.getTime() < half) return false;
    }
    await this.regenerate(now);
    return true;
  }

  private async regenerateNow(now: Date): Promise<Buffer> {
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.validityMs);
    const number = (this.state?.number ?? 0n) + 1n;
    const der = buildCrl(
      {
        issuer: this.ca.cert,
        thisUpdate,
        nextUpdate,
        crlNumber: number,
        entries: await this.inventory.revokedEntries(),
      },
      this.ca.signer,
      this.hash,
    );
    await writeFileAtomic(pathIn(this.dir, CaFiles.crl), der, 0o600);
    this.state = { der, number, thisUpdate, nextUpdate };
    return der;
  }
}
