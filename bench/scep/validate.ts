import { parseCertificate } from '../../certs/certificate.js';
import { decodeCertRep, PkiStatus } from '../../connector/scep/codec/index.js';
import type { PreparedRequest } from './client-material.js';
import type { LoadResult } from './load.js';

export interface Validation {
  issued: number;
  failures: number;
  /** Serial numbers that appeared more than once (in this run or an earlier one). */
  duplicateSerials: number;
  /** Why the first few failures failed, for the report. */
  reasons: string[];
}

/**
 * Decrypts and checks every CertRep after the timed phase: SUCCESS, issued certificate for the
 * requested CN and key, serial never seen before. `seenSerials` spans the whole benchmark.
 */
export function validate(
  result: LoadResult,
  requests: PreparedRequest[],
  raCertsDer: Buffer[],
  seenSerials: Set<string>,
): Validation {
  let issued = 0;
  let failures = result.httpErrors;
  let duplicateSerials = 0;
  const reasons: string[] = [];
  const fail = (reason: string) => {
    failures++;
    if (reasons.length < 5) reasons.push(reason);
  };
  result.responses.forEach((body, i) => {
    if (!body) return;
    const request = requests[i]!;
    try {
      const rep = decodeCertRep(body, {
        requesterPrivateKey: request.key.pair.privateKey,
        requesterCertDer: request.key.signerCertDer,
        raCertsDer,
      });
      const cert = rep.status === PkiStatus.SUCCESS ? rep.issuedCertsDer[0] : undefined;
      if (!cert || rep.transactionId !== request.transactionId) {
        fail(`status ${rep.status} failInfo ${rep.failInfo}`);
        return;
      }
      const parsed = parseCertificate(cert);
      if (!parsed.subject.text.includes(`CN=${request.cn}`)) {
        fail(`subject ${parsed.subject.text}`);
        return;
      }
      if (seenSerials.has(parsed.serialHex)) duplicateSerials++;
      seenSerials.add(parsed.serialHex);
      issued++;
    } catch (e) {
      fail(`undecodable CertRep: ${(e as Error).message}`);
    }
  });
  return { issued, failures, duplicateSerials, reasons };
}
