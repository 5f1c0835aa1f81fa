import { parseOcspRequest } from '../../certs/ocsp/ocsp-request.js';
import { buildOcspRequest } from '../../certs/ocsp/ocsp-request-builder.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, invariant, isCodecError, showBytes } from '../target.js';

/**
 * OCSPRequest as the responder reads it (certs/ocsp/ocsp-request.ts parseOcspRequest). Invariant:
 * the CertIDs it returns, rebuilt into a request by our own builder, parse to the same CertIDs.
 */
export function derOcspRequestTarget(): FuzzTarget<Buffer> {
  const seeds = [
    'fuzz/fixtures/ocsp-request-nonce.der',
    'fuzz/fixtures/ocsp-request-plain.der',
    'fuzz/fixtures/ocsp-request-two-sha256.der',
    'fuzz/fixtures/ocsp-request-signed.der',
  ].map(repoFile);
  return {
    name: 'der-ocsp-request',
    arbitrary: almostValidDer(seeds),
    check: (der) => {
      const request = parseOcspRequest(der);
      const again = parseOcspRequest(buildOcspRequest(request.certIds.map((id) => id.der)));
      invariant(
        again.certIds.length === request.certIds.length &&
          again.certIds.every((id, i) => id.der.equals(request.certIds[i]!.der)),
        'CertIDs do not survive a rebuild',
      );
    },
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
