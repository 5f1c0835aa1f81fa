import { createPrivateKey } from 'node:crypto';
import { decodeGetMessageParam, decodePkiMessage } from '../../connector/scep/codec/index.js';
import { almostValidDer } from '../der-mutations.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError, showBytes } from '../target.js';

const dir = 'connector/scep/codec/fixtures/';

/**
 * A SCEP pkiMessage as the connector receives it over HTTP (connector/scep/codec decodePkiMessage):
 * SignedData, signer check, EnvelopedData decryption with the RA key, payload (CSR) reading.
 * Seeds are the requests captured from micromdm scepclient and certmonger.
 */
export function scepPkiMessageTarget(): FuzzTarget<Buffer> {
  const certmonger = decodeGetMessageParam(
    repoFile(`${dir}certmonger-pkcsreq.get-param.txt`).toString().trim(),
  );
  const seeds = [
    repoFile(`${dir}scepclient-pkcsreq.der`),
    repoFile(`${dir}scepclient-renewalreq.der`),
    certmonger,
  ];
  const options = {
    raCertDer: repoFile(`${dir}scepserver-ca.crt.der`),
    raPrivateKey: createPrivateKey(repoFile(`${dir}scepserver-ca.key`)),
    maxBytes: 64 * 1024,
  };
  return {
    name: 'scep-pki-message',
    arbitrary: almostValidDer(seeds),
    check: (der) => void decodePkiMessage(der, options),
    isExpectedError: isCodecError,
    show: showBytes,
  };
}
