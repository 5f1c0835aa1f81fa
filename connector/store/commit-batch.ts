import type { Transaction } from 'better-sqlite3';
import type { Db } from './database.js';

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for SQLite writes: the writes asked for during one turn of the event loop (the
 * requests whose bytes arrived in the same poll) run in one IMMEDIATE transaction, committed in
 * the loop's check phase (setImmediate). A commit costs WAL frames, the write lock, the
 * wal-index and every few hundred commits an inline checkpoint with an fsync; with several SCEP
 * processes on one file each commit also throws the other processes' page caches away. One
 * commit for k writes pays that once.
 *
 * Durability is unchanged: a write's promise settles only after the COMMIT that holds it
 * returned (or with the error that stopped it), so nobody answers a client before its row is
 * committed. Each write runs in its own SAVEPOINT (better-sqlite3 nests transactions that way):
 * a write that throws (a duplicate serial, a challenge spent meanwhile) is rolled back alone and
 * rejects alone, in order, exactly as it would have on its own. When the COMMIT itself fails,
 * every write of the batch rejects with that error.
 */
export class CommitBatch<T> {
  private waiting: Array<Waiting<T>> = [];
  /** COMMITs run so far (each holds one or more writes). */
  commits = 0;
  private readonly commitAll: Transaction<(batch: Array<Waiting<T>>, errors: unknown[]) => void>;

  constructor(db: Db, write: (item: T) => void) {
    const writeOne = db.transaction(write); // nested in commitAll: a SAVEPOINT
    this.commitAll = db.transaction((batch: Array<Waiting<T>>, errors: unknown[]) => {
      for (const [i, { item }] of batch.entries()) {
        try {
          writeOne(item);
        } catch (e) {
          errors[i] = e;
        }
      }
    });
  }

  /** Resolves once `item` is written and committed; rejects with what `write` threw for it. */
  write(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      if (this.waiting.length === 1) setImmediate(() => this.commit());
    });
  }

  private commit(): void {
    const batch = this.waiting;
    this.waiting = [];
    const errors: unknown[] = new Array(batch.length);
    try {
      this.commitAll.immediate(batch, errors);
      this.commits++;
    } catch (e) {
      for (const { reject } of batch) reject(e);
      return;
    }
    batch.forEach(({ resolve, reject }, i) => {
      if (i in errors) reject(errors[i]);
      else resolve();
    });
  }
}
