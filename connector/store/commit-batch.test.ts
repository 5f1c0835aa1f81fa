import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommitBatch } from './commit-batch.js';
import { type Db, openDatabase } from './database.js';

describe('CommitBatch', () => {
  let dir: string;
  let db: Db;
  let batch: CommitBatch<{ id: number; fail?: boolean }>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'commit-batch-'));
    db = openDatabase(join(dir, 'state.db'));
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO t (id) VALUES (?)');
    batch = new CommitBatch(db, ({ id, fail }) => {
      insert.run(id);
      if (fail) throw new Error(`write ${id} refused`);
    });
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const committedIds = () => {
    // Another connection sees only committed rows.
    const other = new Database(join(dir, 'state.db'), { readonly: true });
    try {
      return (other.prepare('SELECT id FROM t ORDER BY id').all() as Array<{ id: number }>).map((r) => r.id);
    } finally {
      other.close();
    }
  };

  it('commits the writes of one event-loop turn together, and each settles after its commit', async () => {
    const settled: number[] = [];
    const writes = [1, 2, 3].map((id) =>
      batch.write({ id }).then(() => {
        expect(committedIds()).toContain(id);
        settled.push(id);
      }),
    );
    expect(committedIds()).toEqual([]); // nothing before the loop's check phase
    await Promise.all(writes);
    expect(settled).toEqual([1, 2, 3]);
    expect(batch.commits).toBe(1);
    await batch.write({ id: 4 });
    expect(batch.commits).toBe(2);
    expect(committedIds()).toEqual([1, 2, 3, 4]);
  });

  it('rolls back and rejects a failing write alone; the others of its batch commit', async () => {
    const results = await Promise.allSettled([
      batch.write({ id: 1 }),
      batch.write({ id: 2, fail: true }),
      batch.write({ id: 1 }), // duplicate primary key
      batch.write({ id: 3 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toContain('write 2 refused');
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({
      code: 'SQLITE_CONSTRAINT_PRIMARYKEY',
    });
    expect(batch.commits).toBe(1);
    expect(committedIds()).toEqual([1, 3]);
  });

  it('rejects every write of a batch whose transaction cannot start', async () => {
    const other = new Database(join(dir, 'state.db'));
    other.pragma('busy_timeout = 0');
    db.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    try {
      const results = await Promise.allSettled([batch.write({ id: 1 }), batch.write({ id: 2 })]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await batch.write({ id: 1 });
    expect(committedIds()).toEqual([1]);
  });
});
