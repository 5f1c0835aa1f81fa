import { buildCrl, parseCrlInfo } from '../../../certs/crl.js';
import type { HashName } from '../../../certs/signer.js';
import type { Inventory, SharedCrls } from '../../ports.js';
import { CaFiles, pathIn, readIfExists, writeFileAtomic } from './files.js';
import type { KeyedCertificate } from './material.js';

interface CrlState {
  der: Buffer;
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
}

/** Nodes regenerating at once: each loser adopts the winner's CRL and numbers after it. */
const MAX_PUBLISH_TRIES = 5;

function stateOf(der: Buffer): CrlState {
  const info = parseCrlInfo(der);
  return {
    der,
    number: info.crlNumber ?? 0n,
    thisUpdate: info.thisUpdate,
    nextUpdate: info.nextUpdate ?? info.thisUpdate,
  };
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
    private readonly shared?: SharedCrls,
  ) {}

  /** Resumes from `crl.der` when it exists and is ours; regenerates otherwise. */
  async load(now: Date): Promise<void> {
    const der = (await this.shared?.newest()) ?? (await readIfExists(pathIn(this.dir, CaFiles.crl)));
    if (der) {
      try {
        this.state = stateOf(der);
      } catch {
        this.state = undefined; // unreadable: replaced below
      }
    }
    if (!this.state) await this.regenerate(now);
  }

  /**
   * Adopts `crl.der` when another process (an `outpost certs revoke` run) wrote a newer one, or
   * the newest a node of the site published: CRL numbers only grow, so a higher one means ours is
   * stale (the maintenance timer asks every 5 s).
   */
  reloadIfNewer(): Promise<boolean> {
    const run = this.queue.then(async () => {
      const der = this.shared
        ? await this.shared.newest()
        : await readIfExists(pathIn(this.dir, CaFiles.crl));
      if (!der || (this.state && der.equals(this.state.der))) return false;
      const newer = stateOf(der);
      if (this.state && newer.number <= this.state.number) return false;
      this.state = newer;
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

  /**
   * With shared CRLs, the number follows the newest any node published, and publishing is the
   * race: the PRIMARY KEY on the number lets one node's CRL in; a loser adopts it and numbers
   * after it (its CRL then also holds what the winner's did: both read the shared inventory).
   */
  private async regenerateNow(now: Date): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      if (this.shared) await this.adoptShared();
      const built = await this.build(now);
      if (this.shared && !(await this.shared.publish(built)) && attempt < MAX_PUBLISH_TRIES) continue;
      await writeFileAtomic(pathIn(this.dir, CaFiles.crl), built.der, 0o600);
      this.state = built;
      return built.der;
    }
  }

  private async adoptShared(): Promise<void> {
    const der = await this.shared?.newest();
    if (!der) return;
    const newest = stateOf(der);
    if (!this.state || newest.number > this.state.number) this.state = newest;
  }

  private async build(now: Date): Promise<CrlState> {
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
    return { der, number, thisUpdate, nextUpdate };
  }
}
