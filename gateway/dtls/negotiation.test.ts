import { describe, expect, it } from 'vitest';
import { parseConnectRequest } from '../cstp/index.js';
import { connectRequestHeaders } from '../cstp/testing/transcript.js';
import { pskSuites } from './cipher-suites.js';
import { chooseDtls, dtlsOverhead } from './negotiation.js';

/** openconnect 9.01's offer (transcript section B), varied by `--dtls-ciphers`/`--dtls12-ciphers`. */
const offer = parseConnectRequest(connectRequestHeaders('B')).dtls!;

describe('DTLS choice at CONNECT', () => {
  it("reads openconnect 9.01's offer from the transcript", () => {
    expect(offer.cipherSuites).toEqual([
      'PSK-NEGOTIATE',
      'OC-DTLS1_2-AES256-GCM',
      'OC2-DTLS1_2-CHACHA20-POLY1305',
      'OC-DTLS1_2-AES128-GCM',
      'DHE-RSA-AES256-SHA',
      'DHE-RSA-AES128-SHA',
      'AES256-SHA',
      'AES128-SHA',
    ]);
    expect(offer.dtls12CipherSuites[0]).toBe('ECDHE-RSA-AES256-GCM-SHA384');
    expect(offer.masterSecret?.toString('hex')).toBe(
      '4e8c7ffd1ff80841eff7510cbe5a43ed765262c82160cd2f4852c5a7b15607cb7af382837dfd52ddb1b016ca5b5ce009',
    );
  });

  it.each([
    ['the full offer', offer, true, 'psk', undefined],
    ['the full offer, no PSK exporter', offer, false, 'legacy', 'OC-DTLS1_2-AES128-GCM'],
    [
      '--dtls-ciphers OC-DTLS1_2-AES256-GCM',
      { ...offer, cipherSuites: ['OC-DTLS1_2-AES256-GCM'], dtls12CipherSuites: [] },
      true,
      'legacy',
      'OC-DTLS1_2-AES256-GCM',
    ],
    [
      '--dtls12-ciphers ECDHE-RSA-AES256-GCM-SHA384 only',
      { ...offer, cipherSuites: [], dtls12CipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384'] },
      true,
      'legacy',
      'ECDHE-RSA-AES256-GCM-SHA384',
    ],
    [
      'CBC suites only',
      { ...offer, cipherSuites: ['AES128-SHA'], dtls12CipherSuites: ['AES256-SHA'] },
      true,
      'none',
      undefined,
    ],
    [
      'a legacy suite without a master secret',
      { cipherSuites: ['OC-DTLS1_2-AES128-GCM'], dtls12CipherSuites: [] },
      true,
      'none',
      undefined,
    ],
  ] as const)('%s → %s', (_what, o, psk, mode, suite) => {
    const choice = chooseDtls(o, psk);
    expect(choice.mode).toBe(mode);
    if (choice.mode === 'legacy') expect(choice.suite.name).toBe(suite);
  });

  it('counts ocserv’s overhead: 38 bytes for GCM (1500 → 1434 as in the transcript), 30 for ChaCha20', () => {
    expect(dtlsOverhead()).toBe(38);
    expect(1500 - 28 - dtlsOverhead()).toBe(1434);
    expect(dtlsOverhead(pskSuites.chacha20)).toBe(30);
  });
});
