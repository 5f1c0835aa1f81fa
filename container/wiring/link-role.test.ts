import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinkTestPki } from '../../link/testing/link-pki.js';
import { loadConfig } from '../config/load-config.js';
import { openLinkRole } from './link-role.js';

const logger = pino({ level: 'silent' });
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-link-role-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const config = (extra: Record<string, unknown> = {}) =>
  loadConfig({
    env: {
      OUTPOST_DATA_DIR: dir,
      ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)])),
    },
  });

describe('openLinkRole', () => {
  it('is absent for a standalone appliance (no cloud section, not enrolled)', () => {
    expect(openLinkRole(config(), logger)).toBeUndefined();
  });

  it('leaves the roles standalone when cloud is configured but the appliance is not enrolled', () => {
    expect(openLinkRole(config({ OUTPOST__cloud__url: 'https://cloud.test:7443' }), logger)).toBeUndefined();
  });

  it('opens from the enrollment alone, registers handlers, and closes its journal', async () => {
    const pki = new LinkTestPki('appl-role');
    try {
      pki.enroll('https://127.0.0.1:1');
      const link = openLinkRole(loadConfig({ env: { OUTPOST_DATA_DIR: pki.dataDir } }), logger);
      expect(link?.service.applianceId).toBe('appl-role');
      link!.service.registerJobHandler({ kind: 'cert.revoke', handle: async () => ({}) });
      expect(link!.service.jobKinds()).toEqual(['cert.revoke']);
      expect(link!.service.status()).toMatchObject({ connected: false, established: false, outbox: 0 });
      await link!.service.stop();
    } finally {
      pki.cleanup();
    }
  });

  it('refuses to run roles the appliance was not enrolled for', () => {
    const pki = new LinkTestPki('appl-role');
    try {
      pki.enroll('https://127.0.0.1:1'); // enrolled for the connector only
      expect(
        openLinkRole(
          loadConfig({ env: { OUTPOST_DATA_DIR: pki.dataDir, OUTPOST__roles: '[gateway]' } }),
          logger,
        ),
      ).toBeUndefined();
    } finally {
      pki.cleanup();
    }
  });
});
