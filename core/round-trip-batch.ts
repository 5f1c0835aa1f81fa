/** What a batch answered for one of its items: a value, or the error that item alone fails with. */
export type BatchOutcome<R> = { value: R } | { error: unknown };

interface Waiting<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/** Items one statement carries at most (its array parameters grow with it). */
const MAX_BATCH = 64;

/**
 * Group round trips to PostgreSQL: the calls made while this process's previous statement of the
 * same kind is on the wire are sent together, as one statement, when it returns (the calls of
 * one idle moment go at the end of the current event-loop turn, setImmediate). Each statement
 * costs the server a wake-up of its backend, a parse of the Bind, an executor start and, for a
 * write, a commit with its WAL write; and it costs node-postgres a pool checkout and a result
 * parse. Under load (bench:scep --site: 8 enrollments in flight per SCEP process; a gateway
 * site's failover storm: hundreds of cookies resumed at once) k calls then pay that once, and an
 * idle node pays nothing more than before: a lone call goes at once.
 *
 * `send` answers each item on its own (a duplicate serial fails alone, a lookup that finds nothing
 * is one `{ value }` among others). A promise settles only once the statement that carries its
 * item has returned, so a write is committed before anyone is told it succeeded. If `send` itself
 * throws (the connection dropped, the statement failed as a whole), every item of that batch
 * rejects with that error: the caller decides in `send` whether a whole-batch error should be
 * split into single calls.
 */
export class RoundTripBatch<I, R> {
  private waiting: Array<Waiting<I, R>> = [];
  private inFlight = false;
  private scheduled = false;
  /** Statements sent so far (each carrying one or more items); for tests. */
  statements = 0;

  constructor(private readonly send: (items: I[]) => Promise<Array<BatchOutcome<R>>>) {}

  run(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.inFlight || this.scheduled || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, MAX_BATCH);
    this.inFlight = true;
    this.statements++;
    try {
      const outcomes = await this.send(batch.map((w) => w.item));
      batch.forEach(({ resolve, reject }, i) => {
        const outcome = outcomes[i];
        if (outcome === undefined) reject(new Error('round-trip batch: no answer for an item'));
        else if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      });
    } catch (e) {
      for (const { reject } of batch) reject(e);
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }
}
