import type { FuzzTargetEntry } from '../target.js';
import { cmsEnvelopedDataTarget } from './cms-enveloped-data.js';
import { cmsSignedDataTarget } from './cms-signed-data.js';
import { configYamlTarget } from './config-yaml.js';
import { cstpConnectTarget } from './cstp-connect.js';
import { cstpFrameTarget } from './cstp-frame.js';
import { cstpXmlAuthTarget } from './cstp-xml-auth.js';
import { derCsrTarget } from './der-csr.js';
import { derOcspRequestTarget } from './der-ocsp-request.js';
import { dtlsHandshakeTarget } from './dtls-handshake.js';
import { dtlsRecordTarget } from './dtls-record.js';
import { linkMessageTarget } from './link-message.js';
import { proxyV2Target } from './proxy-v2.js';
import { scepCertRepTarget } from './scep-cert-rep.js';
import { scepGetParamTarget } from './scep-get-param.js';
import { scepPkiMessageTarget } from './scep-pki-message.js';
import { tlsRecordLayerTarget } from './tls-record-layer.js';
import { tlsRecordSplitterTarget } from './tls-record-splitter.js';

/** Every decoder that reads bytes from the network or from a config source (issue 11), cheapest first. */
export const fuzzTargets: readonly FuzzTargetEntry[] = [
  { name: 'cstp-frame', create: cstpFrameTarget },
  { name: 'cstp-connect', create: cstpConnectTarget },
  { name: 'cstp-xml-auth', create: cstpXmlAuthTarget },
  { name: 'proxy-v2', create: proxyV2Target },
  { name: 'tls-record-splitter', create: tlsRecordSplitterTarget },
  { name: 'tls-record-layer', create: tlsRecordLayerTarget },
  { name: 'dtls-record', create: dtlsRecordTarget },
  { name: 'dtls-handshake', create: dtlsHandshakeTarget },
  { name: 'link-message', create: linkMessageTarget },
  { name: 'config-yaml', create: configYamlTarget },
  { name: 'scep-get-param', create: scepGetParamTarget },
  { name: 'der-ocsp-request', create: derOcspRequestTarget },
  { name: 'der-csr', create: derCsrTarget },
  { name: 'cms-signed-data', create: cmsSignedDataTarget },
  { name: 'scep-cert-rep', create: scepCertRepTarget },
  { name: 'scep-pki-message', create: scepPkiMessageTarget },
  { name: 'cms-enveloped-data', create: cmsEnvelopedDataTarget },
] as const;
