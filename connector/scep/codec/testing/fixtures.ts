import { join } from 'node:path';
import { fixtureFolder } from '../../../../certs/testing/fixture-folder.js';

/** Tests only: the SCEP fixtures (see ../fixtures/README.md) and openssl run beside them. */
export const { fixtureDir, fixture, fixtureKey, fixtureSigner, openssl } = fixtureFolder(
  join(import.meta.dirname, '..', 'fixtures'),
);
