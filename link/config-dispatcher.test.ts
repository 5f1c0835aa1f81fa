import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, OutpostError } from '../core/errors.js';
import { ConfigDispatcher } from './config-dispatcher.js';
import { JobJournal } from './journal/job-journal.js';
import { type JournalDb, openJournalDb } from './journal/journal-db.js';

const logger = pino({ level: 'silent' });
let db: JournalDb;
let dispatcher: ConfigDispatcher;
let applied: string[];

beforeEach(() => {
  db = openJournalDb(':memory:');
  dispatcher = new ConfigDispatcher(new JobJournal(db), logger);
  applied = [];
  for (const section of ['gateway', 'connector']) {
    dispatcher.register({
      section,
      validate: async (c) => {
        if ((c as { invalid?: string }).invalid) {
          throw new OutpostError(ErrorCodes.config, `${section}: ${(c as { invalid: string }).invalid}`);
        }
      },
      apply: async (version) => {
        await new Promise((r) => setTimeout(r, 5));
        applied.push(`${section}@${version}`);
      },
    });
  }
});
afterEach(() => db.close());

describe('ConfigDispatcher', () => {
  it('applies every section and records the version', async () => {
    expect(dispatcher.appliedVersion()).toBeNull();
    expect(await dispatcher.apply(2, { gateway: {}, connector: {} })).toEqual({ status: 'applied' });
    expect(applied).toEqual(['gateway@2', 'connector@2']);
    expect(dispatcher.appliedVersion()).toBe(2);
  });

  it('validates all sections before applying any: one invalid section changes nothing', async () => {
    const result = await dispatcher.apply(3, { gateway: {}, connector: { invalid: 'ca.type: unknown' } });
    expect(result).toEqual({
      status: 'rejected',
      error: { code: 'OUTPOST_ERR_CONFIG', retryable: false, message: 'connector: ca.type: unknown' },
    });
    expect(applied).toEqual([]);
    expect(dispatcher.appliedVersion()).toBeNull();
  });

  it('rejects a section no role applies here', async () => {
    const solo = new ConfigDispatcher(new JobJournal(db), logger);
    solo.register({ section: 'connector', apply: async () => undefined });
    expect(await solo.apply(1, { gateway: { port: 1 } })).toMatchObject({
      status: 'rejected',
      error: { code: 'OUTPOST_ERR_UNSUPPORTED' },
    });
  });

  it('applies pushes one at a time in arrival order, and a repeated version once', async () => {
    const results = await Promise.all([
      dispatcher.apply(1, { gateway: {} }),
      dispatcher.apply(2, { gateway: {} }),
      dispatcher.apply(2, { gateway: {} }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    expect(applied).toEqual(['gateway@1', 'gateway@2']);
  });

  it('maps an unexpected apply failure to a config rejection without its internal text', async () => {
    const broken = new ConfigDispatcher(new JobJournal(db), logger);
    broken.register({
      section: 'gateway',
      apply: async () => Promise.reject(new Error('EACCES /etc/secret')),
    });
    expect(await broken.apply(1, { gateway: {} })).toEqual({
      status: 'rejected',
      error: { code: 'OUTPOST_ERR_CONFIG', retryable: false, message: 'internal error' },
    });
  });
});
