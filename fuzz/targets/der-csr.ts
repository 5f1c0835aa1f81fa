import { parseCsr } from '../../certs/csr.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError, showBytes } from '../target.js';

/** PKCS#10 as SCEP clients and the link's renew message send it (certs/csr.ts parseCsr). */
export function derCsrTarget(): FuzzTarget<Buffer> {
  const seeds = [
    'fuzz/fixtures/csr-rsa-extensions.der',
    'fuzz/fixtures/csr-ec-p256.der',
    'fuzz/fixtures/csr-ec-p384.der',
    'fuzz/fixtures/csr-ed25519.der',
    'fuzz/fixtures/csr-rsa-pss.der',
    'connector/scep/codec/fixtures/device.csr.der',
  ].map(repoFile);
  return {
    name: 'der-csr',
    arbitrary: almostValidDer(seeds),
    check: (der) => void parseCsr(der),
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
