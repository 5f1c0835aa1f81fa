/**
 * Chooses the SCEP worker for each new connection: the one with the fewest connections open.
 * Node cluster's round-robin instead hands the next connection to whichever worker acknowledged
 * its previous one first, and a worker busy with RSA acknowledges late, so a burst of 16
 * keep-alive connections (a load generator, an HAProxy pool) was measured split 2/14 over two
 * workers: one core saturated, the other idle for as long as the connections lived. Ties go to
 * the members in turn, so one client opening a connection per request still alternates.
 */
export class ConnectionBalancer<T> {
  private readonly members: Array<{ target: T; open: number }> = [];
  private turn = 0;

  /** From now on `target` takes new connections (none open yet). */
  join(target: T): void {
    if (this.find(target) === undefined) this.members.push({ target, open: 0 });
  }

  /** `target` takes no new connections (it stops, or died); its counts are forgotten. */
  leave(target: T): void {
    const i = this.members.findIndex((m) => m.target === target);
    if (i >= 0) this.members.splice(i, 1);
  }

  /** The member for a new connection, counted open on it; undefined when there is none. */
  assign(): T | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    const start = this.turn++ % n;
    let best = this.members[start]!;
    for (let i = 1; i < n; i++) {
      const m = this.members[(start + i) % n]!;
      if (m.open < best.open) best = m;
    }
    best.open++;
    return best.target;
  }

  /** One connection of `target` closed (or never reached it). */
  closed(target: T): void {
    const m = this.find(target);
    if (m !== undefined && m.open > 0) m.open--;
  }

  /** Connections open per member, in joining order (for logs and tests). */
  counts(): number[] {
    return this.members.map((m) => m.open);
  }

  private find(target: T): { target: T; open: number } | undefined {
    return this.members.find((m) => m.target === target);
  }
}
