import { join } from 'node:path';
import { fixtureFolder } from '../../testing/fixture-folder.js';

/** Tests only: the CMS fixtures (made by ../fixtures/make-fixtures.sh) and openssl run beside them. */
export const { fixtureDir, fixture, fixtureKey, fixtureSigner, openssl } = fixtureFolder(
  join(import.meta.dirname, '..', 'fixtures'),
);

export const legacyProviders = ['-provider', 'default', '-provider', 'legacy'];
