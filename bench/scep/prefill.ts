import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../connector/store/database.js';
import { prefillInventory } from '../../connector/store/testing/prefill.js';

/** Fills the stopped appliance's inventory with `count` synthetic certificates; returns seconds taken. */
export async function prefill(dataDir: string, count: number): Promise<number> {
  const started = performance.now();
  const db = openDatabase(join(dataDir, 'outpost.db'));
  try {
    prefillInventory(db, count, { now: new Date(), batchSize: 100_000 });
  } finally {
    db.close();
  }
  return (performance.now() - started) / 1000;
}
