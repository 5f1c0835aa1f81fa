import { describe, expect, it } from 'vitest';
import { Readiness } from './readiness.js';

describe('Readiness', () => {
  it('reports informational checks without counting them against readiness', async () => {
    const readiness = new Readiness(200);
    readiness.register('connector', async () => ({ ok: true }));
    readiness.register('ca', async () => ({ ok: false, detail: 'cfssl: down' }), { critical: false });
    expect(await readiness.run()).toEqual({
      ready: true,
      checks: { connector: { ok: true }, ca: { ok: false, detail: 'cfssl: down' } },
    });
  });

  it('a critical failure, or one registered again as critical, makes it not ready', async () => {
    const readiness = new Readiness(200);
    readiness.register('ca', async () => ({ ok: false }), { critical: false });
    readiness.register('ca', async () => ({ ok: false }));
    expect((await readiness.run()).ready).toBe(false);
  });

  it('an informational check that hangs is cut off like any other', async () => {
    const readiness = new Readiness(50);
    readiness.register('ca', () => new Promise(() => {}), { critical: false });
    expect(await readiness.run()).toEqual({
      ready: true,
      checks: { ca: { ok: false, detail: 'no answer within 50 ms' } },
    });
  });
});
