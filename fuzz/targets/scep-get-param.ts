import { decodeGetMessageParam } from '../../connector/scep/codec/index.js';
import { repoFile } from '../repo-file.js';
import { type FuzzTarget, isCodecError } from '../target.js';
import { mutatedText } from '../text-mutations.js';

/** The `message=` query parameter of a SCEP GET PKIOperation (base64, maybe percent-encoded). */
export function scepGetParamTarget(): FuzzTarget<string> {
  const certmonger = repoFile('connector/scep/codec/fixtures/certmonger-pkcsreq.get-param.txt')
    .toString()
    .trim();
  const base64 = repoFile('connector/scep/codec/fixtures/scepclient-pkcsreq.der').toString('base64');
  const seeds = [
    certmonger,
    base64,
    encodeURIComponent(base64),
    base64.replace(/\+/g, '-').replace(/\//g, '_'),
    '',
  ];
  const dictionary = [
    '%',
    '%2B',
    '%2F',
    '%3D',
    '%0A',
    '%0D%0A',
    '%zz',
    '%%',
    '=',
    '==',
    '+',
    '/',
    '-',
    '_',
    ' ',
    '\n',
    'A',
    '%25',
    '%u0041',
    '\u00e9',
    '\uD800',
  ];
  return {
    name: 'scep-get-param',
    arbitrary: mutatedText(seeds, dictionary),
    check: (text) => void decodeGetMessageParam(text),
    isExpectedError: isCodecError,
    show: (text) => JSON.stringify(text),
  };
}
