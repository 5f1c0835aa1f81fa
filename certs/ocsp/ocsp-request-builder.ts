import { contextConstructed, objectIdentifier, octetString, sequence } from '../der-writer.js';
import { Oid } from '../oids.js';

/**
 * An unsigned OCSPRequest (RFC 6960 §4.1.1) for CertIDs built with encodeCertId, with the nonce
 * written as RFC 8954 defines it (an OCTET STRING inside extnValue). For clients and tests.
 */
export function buildOcspRequest(certIds: Uint8Array[], nonce?: Uint8Array): Buffer {
  const extensions = nonce
    ? [
        contextConstructed(
          2,
          sequence(sequence(objectIdentifier(Oid.ocspNonce), octetString(octetString(nonce)))),
        ),
      ]
    : [];
  return sequence(sequence(sequence(...certIds.map((id) => sequence(id))), ...extensions));
}
