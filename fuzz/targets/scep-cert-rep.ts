import { createPrivateKey } from 'node:crypto';
import { decodeCertRep, decodePkiMessage } from '../../connector/scep/codec/index.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError, showBytes } from '../target.js';

const dir = 'connector/scep/codec/fixtures/';

/**
 * A CertRep as the scep-upstream CA backend receives it from an upstream SCEP server
 * (connector/scep/codec decodeCertRep). Seeds: micromdm scepserver's replies to scepclient.
 */
export function scepCertRepTarget(): FuzzTarget<Buffer> {
  const raCertDer = repoFile(`${dir}scepserver-ca.crt.der`);
  const request = decodePkiMessage(repoFile(`${dir}scepclient-pkcsreq.der`), {
    raCertDer,
    raPrivateKey: createPrivateKey(repoFile(`${dir}scepserver-ca.key`)),
    maxBytes: 64 * 1024,
  });
  const options = {
    requesterPrivateKey: createPrivateKey(repoFile(`${dir}scepclient.key`)),
    requesterCertDer: request.signerCertDer,
    raCertsDer: [raCertDer],
    maxBytes: 64 * 1024,
  };
  const seeds = [
    repoFile(`${dir}scepserver-certrep-pkcsreq.der`),
    repoFile(`${dir}scepserver-certrep-renewalreq.der`),
  ];
  return {
    name: 'scep-cert-rep',
    arbitrary: almostValidDer(seeds),
    check: (der) => void decodeCertRep(der, options),
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
