import { decodeSignedData, verifySignerInfo } from '../../certs/cms/index.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError, showBytes } from '../target.js';

const maxBytes = 64 * 1024;

/**
 * CMS SignedData (certs/cms decodeSignedData) then each signer checked against the first embedded
 * certificate, as the SCEP path does: reaches the certificate reader and the signed-attribute checks.
 */
export function cmsSignedDataTarget(): FuzzTarget<Buffer> {
  const seeds = [
    'certs/cms/fixtures/signed-rsa-sha256.der',
    'certs/cms/fixtures/signed-ec-sha384.der',
    'certs/cms/fixtures/signed-rsa-keyid.der',
    'certs/cms/fixtures/signed-rsa-sha1-noattr.der',
    'certs/cms/fixtures/signed-rsa-ber.der',
    'connector/scep/codec/fixtures/scepclient-pkcsreq.der',
    'connector/scep/codec/fixtures/scepserver-certrep-pkcsreq.der',
  ].map(repoFile);
  return {
    name: 'cms-signed-data',
    arbitrary: almostValidDer(seeds),
    check: (der) => {
      const signed = decodeSignedData(der, { maxBytes });
      const cert = signed.certificates[0];
      if (!cert || !signed.content) return;
      for (const signer of signed.signers) verifySignerInfo(signer, cert, signed.content);
    },
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
