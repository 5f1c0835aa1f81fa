import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCertificate } from '../certs/certificate.js';
import { firstDer } from '../certs/pem.js';
import { decodeSidExtension, SidOid, sidUri } from '../certs/sid-extension.js';
import { ErrorCodes } from '../core/errors.js';
import { LdapDirectory } from '../directory/ldap-directory.js';
import { decodeObjectSid } from '../directory/object-sid.js';
import { AD_ACCOUNT_SCHEMA, UAC } from './testing/ad-schema.js';
import { type RunningAppliance, startAppliance } from './testing/appliance.js';
import { requirePeers } from './testing/peers.js';
import { openssl, run } from './testing/run.js';
import { scepclient } from './testing/scepclient.js';
import { FIXTURE_USERS, type FixtureUser, type RunningSlapd, startSlapd } from './testing/slapd.js';

requirePeers('slapd', 'slapadd', 'slappasswd', 'ldapmodify', 'ldapsearch', 'scepclient', 'openssl');

/**
 * Interop: devices enroll with micromdm scepclient through Outpost's SCEP; profiles bound to a
 * real slapd (AD-like schema: sAMAccountName, userPrincipalName, binary objectSid,
 * userAccountControl) get their subject, SANs and KB5014754 SID mapping from the directory.
 * openssl reads every certificate; the SID in it is compared with the objectSid slapd stores.
 */
const adAccount = (uac: number): Pick<FixtureUser, 'objectClasses' | 'attributes'> => ({
  objectClasses: ['adLiteAccount'],
  attributes: { userAccountControl: String(uac) },
});

const USERS: FixtureUser[] = [
  ...FIXTURE_USERS.map((u) => ({ ...u, ...adAccount(UAC.normal) })),
  // AD's ACCOUNTDISABLE bit
  { uid: 'dave', givenName: 'Dave', sn: 'Disabled', rid: 1108, ...adAccount(UAC.disabled) },
  // OpenLDAP style: a flag attribute the openldap-preset directory is told to read
  { uid: 'eve', givenName: 'Eve', sn: 'Flagged', rid: 1110, attributes: { employeeType: 'disabled' } },
  // RFC 4514 specials in the RDN: the DN must survive as one subject value
  { uid: 'smith, john+admin', givenName: 'John', sn: 'Smith', rid: 1111, ...adAccount(UAC.normal) },
];

const DOMAIN_SID = 'S-1-5-21-1004336348-1177238915-682003330';

describe('directory enrichment against slapd (scepclient → Outpost SCEP → slapd)', () => {
  const cloudKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let slapd: RunningSlapd;
  let app: RunningAppliance;
  let secrets: string;

  beforeAll(async () => {
    slapd = await startSlapd({
      tls: true,
      users: USERS,
      schemas: { 'ad-account.schema': AD_ACCOUNT_SCHEMA },
    });
    secrets = mkdtempSync(join(tmpdir(), 'outpost-enrich-'));
    writeFileSync(join(secrets, 'ldap-password'), `${slapd.bindPassword}\n`, { mode: 0o600 });
    const jwksFile = join(secrets, 'jwks.json');
    const jwk = await exportJWK(cloudKey.publicKey);
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...jwk, kid: 'cloud-1', alg: 'ES256' }] }));
    const directory = {
      url: slapd.ldapsUrl!,
      ca: slapd.caFile!,
      bindDn: slapd.bindDn,
      bindPasswordFile: join(secrets, 'ldap-password'),
      baseDn: slapd.baseDn,
      timeoutMs: 1500,
    };
    app = await startAppliance({
      connector: {
        scep: { challenge: { jwks: jwksFile }, workers: 1 },
        profiles: {
          device: {},
          staff: {
            directory: 'corp',
            lookupBy: 'upn',
            lookupFrom: 'challenge',
            deviceIdFrom: 'challenge',
            subjectTemplate:
              'CN={{onPremisesSamAccountName}},OU={{OnPrem_Distinguished_Name}},O=Example Corp',
            sanTemplates: [
              { type: 'upn', value: '{{UserPrincipalName}}' },
              { type: 'email', value: '{{EmailAddress}}' },
              { type: 'dns', value: '{{DeviceId}}.devices.example.test' },
              { type: 'uri', value: 'ldap:///{{OnPrem_Distinguished_Name}}' },
            ],
            sidMapping: 'both',
          },
          // the OpenLDAP preset, told where this directory keeps the SID and the disabled flag;
          // lookup from the CSR's CN, subject from the CSR, SID only as a SAN URI
          ldapstyle: {
            directory: 'openldap',
            lookupBy: 'sAMAccountName',
            lookupFrom: 'subjectCN',
            sidMapping: 'uri',
          },
        },
      },
      directories: {
        corp: { ...directory, schema: 'activeDirectory' },
        openldap: {
          ...directory,
          startTls: true,
          url: slapd.url,
          schema: 'openldap',
          attributes: {
            objectSid: 'objectSid',
            disabled: { attribute: 'employeeType', values: ['disabled'] },
          },
        },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await slapd?.stop();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  function challenge(claims: Record<string, unknown>): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'cloud-1' })
      .setIssuedAt()
      .setExpirationTime('10m')
      .setJti(`jti-${Math.random().toString(36).slice(2)}`)
      .sign(cloudKey.privateKey);
  }

  /** The entry's DN and objectSid as slapd stores them, read with ldapsearch. */
  async function ldapEntry(uid: string): Promise<{ dn: string; sid: string }> {
    const r = await run('ldapsearch', [
      '-x',
      '-LLL',
      '-o',
      'ldif-wrap=no',
      '-H',
      slapd.url,
      '-D',
      slapd.bindDn,
      '-w',
      slapd.bindPassword,
      '-b',
      slapd.baseDn,
      `(uid=${uid})`,
      'objectSid',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const dnLine = /^dn(::?) (.*)$/m.exec(r.stdout)!;
    const dn = dnLine[1] === '::' ? Buffer.from(dnLine[2]!, 'base64').toString('utf8') : dnLine[2]!;
    const sid = decodeObjectSid(Buffer.from(/^objectSid:: (.*)$/m.exec(r.stdout)![1]!, 'base64'));
    return { dn, sid };
  }

  async function enroll(cn: string, claims: Record<string, unknown>) {
    return scepclient(app.scepUrl, { cn, challenge: await challenge(claims) });
  }

  it('issues the templated subject and SANs with the SID extension and URI, as openssl shows them', async () => {
    const r = await enroll('alice-laptop', {
      profile: 'staff',
      userId: 'alice@example.test',
      deviceId: 'dev-0001',
    });
    expect(r.code, r.stdout + r.stderr + app.logs()).toBe(0);
    expect(await openssl(['verify', '-CAfile', join(app.dataDir, 'ca', 'ca.pem'), r.certFile])).toContain(
      ': OK',
    );

    const { dn, sid } = await ldapEntry('alice');
    expect(sid).toBe(`${DOMAIN_SID}-1105`);
    const text = await openssl(['x509', '-in', r.certFile, '-noout', '-text', '-nameopt', 'RFC2253']);
    // RFC 2253 order (most specific first); the DN's commas escaped inside the one OU value
    expect(text).toContain(`Subject: CN=alice,OU=${dn.replace(/,/g, '\\,')},O=Example Corp`);
    expect(text).toMatch(/othername: ?UPN::alice@example\.test/);
    expect(text).toContain('email:alice@example.test');
    expect(text).toContain('DNS:dev-0001.devices.example.test');
    expect(text).toContain(`URI:ldap:///${dn}`);
    expect(text).toContain(`URI:${sidUri(sid)}`);
    expect(text).toMatch(/1\.3\.6\.1\.4\.1\.311\.25\.2: *\n/); // non-critical, unknown to OpenSSL: printed as raw bytes
    expect(text).toContain(sid);

    // openssl's own ASN.1 parser sees the AD CS layout: SEQUENCE { [0] { OID …25.2.1, [0] { OCTET STRING sid } } }
    const parsed = await openssl(['asn1parse', '-in', r.certFile]);
    const offset = /^\s*(\d+):.*OCTET STRING/m.exec(
      parsed.slice(parsed.indexOf(':1.3.6.1.4.1.311.25.2\n')),
    )![1]!;
    const inner = await openssl(['asn1parse', '-in', r.certFile, '-strparse', offset]);
    const structure = inner
      .trim()
      .split('\n')
      .map((line) =>
        line
          .replace(/^\s*\d+:d=(\d) +hl=\d+ +l= *\d+ (prim|cons): /, '$1 $2 ')
          .replace(/\s+/g, ' ')
          .trim(),
      );
    expect(structure).toEqual([
      '0 cons SEQUENCE',
      '1 cons cont [ 0 ]',
      '2 prim OBJECT :1.3.6.1.4.1.311.25.2.1',
      '2 cons cont [ 0 ]',
      `3 prim OCTET STRING :${sid}`,
    ]);

    // decoded back: the extension carries exactly slapd's objectSid
    const cert = parseCertificate(firstDer(readFileSync(r.certFile, 'utf8'), 'CERTIFICATE'));
    const ext = cert.extensions.find((e) => e.oid === SidOid.extension)!;
    expect(ext.critical).toBe(false);
    expect(decodeSidExtension(ext.value)).toBe(sid);
    expect(cert.subject.rdns[1]).toEqual([{ oid: '2.5.4.11', value: dn }]);
  });

  it('a DN with a comma and a plus sign survives as one subject value', async () => {
    const r = await enroll('smith-desktop', {
      profile: 'staff',
      userId: 'smithjohnadmin@example.test',
      deviceId: 'dev-0002',
    });
    expect(r.code, r.stdout + r.stderr + app.logs()).toBe(0);
    const { dn, sid } = await ldapEntry('smith, john+admin');
    expect(dn).toMatch(/smith.*john.*admin/);
    const cert = parseCertificate(firstDer(readFileSync(r.certFile, 'utf8'), 'CERTIFICATE'));
    expect(cert.subject.rdns.map((rdn) => rdn.map((a) => a.value))).toEqual([
      ['Example Corp'],
      [dn],
      ['smith, john+admin'],
    ]);
    // openssl agrees: three RDNs, the specials escaped
    const subject = await openssl(['x509', '-in', r.certFile, '-noout', '-subject', '-nameopt', 'RFC2253']);
    expect(subject).toContain('CN=smith\\, john\\+admin');
    expect(cert.sans.uri).toContain(sidUri(sid));
  });

  it('refuses a disabled and a missing user with failInfo badRequest and a clear reason', async () => {
    const disabled = await enroll('dave-laptop', {
      profile: 'staff',
      userId: 'dave@example.test',
      deviceId: 'd3',
    });
    expect(disabled.code).toBe(1);
    expect(disabled.stdout + disabled.stderr).toContain('failInfo: badRequest (2)');
    expect(await app.waitForLog('the directory account is disabled'), app.logs()).toBe(true);

    const missing = await enroll('ghost-laptop', {
      profile: 'staff',
      userId: 'ghost@example.test',
      deviceId: 'd4',
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout + missing.stderr).toContain('failInfo: badRequest (2)');
    expect(await app.waitForLog('no directory account matches the request'), app.logs()).toBe(true);
  });

  it('renews (RenewalReq) by the SID in the certificate, and refuses once the account is disabled', async () => {
    const first = await enroll('carol-laptop', {
      profile: 'staff',
      userId: 'carol@example.test',
      deviceId: 'd7',
    });
    expect(first.code, first.stdout + first.stderr + app.logs()).toBe(0);
    const issued = readFileSync(first.certFile, 'utf8');

    // scepclient finds cert.pem in its directory and signs a RenewalReq with it (no challenge)
    const renewed = await scepclient(app.scepUrl, { cn: 'carol-laptop', dir: first.dir });
    expect(renewed.code, renewed.stdout + renewed.stderr + app.logs()).toBe(0);
    const cert = parseCertificate(firstDer(readFileSync(first.certFile, 'utf8'), 'CERTIFICATE'));
    expect(readFileSync(first.certFile, 'utf8')).not.toBe(issued);
    expect(cert.subject.text).toMatch(/^CN=carol,OU=/);
    expect(decodeSidExtension(cert.extensions.find((e) => e.oid === SidOid.extension)!.value)).toBe(
      `${DOMAIN_SID}-1107`,
    );

    const ldif = join(secrets, 'disable-carol.ldif');
    writeFileSync(
      ldif,
      `dn: uid=carol,ou=people,${slapd.baseDn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: ${UAC.disabled}\n`,
    );
    const modify = await run('ldapmodify', [
      '-x',
      '-H',
      slapd.url,
      '-D',
      slapd.adminDn,
      '-w',
      slapd.adminPassword,
      '-f',
      ldif,
    ]);
    expect(modify.code, modify.stderr).toBe(0);
    const refused = await scepclient(app.scepUrl, { cn: 'carol-laptop', dir: first.dir });
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toContain('failInfo: badRequest (2)');
    expect(await app.waitForLog('uid=carol,ou=people'), app.logs()).toBe(true);
  });

  it('reads an OpenLDAP-style directory through the openldap preset (StartTLS, flag attribute, URI only)', async () => {
    const r = await enroll('bob', { profile: 'ldapstyle' });
    expect(r.code, r.stdout + r.stderr + app.logs()).toBe(0);
    const cert = parseCertificate(firstDer(readFileSync(r.certFile, 'utf8'), 'CERTIFICATE'));
    expect(cert.subject.text).toBe('CN=bob,OU=Devices,O=Example,C=US'); // no template: the CSR's
    expect(cert.sans.uri).toEqual([sidUri(`${DOMAIN_SID}-1106`)]);
    expect(cert.extensions.some((e) => e.oid === SidOid.extension)).toBe(false);

    const flagged = await enroll('eve', { profile: 'ldapstyle' });
    expect(flagged.code).toBe(1);
    expect(flagged.stdout + flagged.stderr).toContain('failInfo: badRequest (2)');
    expect(await app.waitForLog('uid=eve,ou=people'), app.logs()).toBe(true);
  });

  it('a hung directory fails the request as unavailable within its timeout; it recovers when slapd answers again', async () => {
    slapd.pause();
    try {
      const r = await enroll('alice-tablet', {
        profile: 'staff',
        userId: 'alice@example.test',
        deviceId: 'd5',
      });
      // the server answered (FAILURE), the client was not left waiting until its own time limit
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toContain('failInfo: badRequest (2)');
      expect(await app.waitForLog('OUTPOST_ERR_UNAVAILABLE'), app.logs()).toBe(true);
    } finally {
      slapd.resume();
    }
    const again = await enroll('alice-tablet', {
      profile: 'staff',
      userId: 'alice@example.test',
      deviceId: 'd5',
    });
    expect(again.code, again.stdout + again.stderr + app.logs()).toBe(0);
  });

  it('a stopped directory is unavailable (retryable), not a refusal of the user', async () => {
    const before = app.logs().split('OUTPOST_ERR_UNAVAILABLE').length;
    await slapd.stop();
    const r = await enroll('alice-phone', { profile: 'staff', userId: 'alice@example.test', deviceId: 'd6' });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('failInfo: badRequest (2)');
    await app.waitForLog('directory unavailable, try again later');
    expect(app.logs().split('OUTPOST_ERR_UNAVAILABLE').length).toBeGreaterThan(before);
    // profiles without a directory keep working
    const plain = await enroll('plain-device', {});
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
  });
});

describe('LdapDirectory.findIdentity against slapd (service connection reuse)', () => {
  let slapd: RunningSlapd;
  let directory: LdapDirectory;
  let secrets: string;

  beforeAll(async () => {
    slapd = await startSlapd({
      tls: true,
      users: USERS,
      schemas: { 'ad-account.schema': AD_ACCOUNT_SCHEMA },
    });
    secrets = mkdtempSync(join(tmpdir(), 'outpost-enrich-dir-'));
    writeFileSync(join(secrets, 'pw'), slapd.bindPassword, { mode: 0o600 });
    directory = await LdapDirectory.open({
      url: slapd.url,
      startTls: true,
      ca: slapd.caFile!,
      bindDn: slapd.bindDn,
      bindPasswordFile: join(secrets, 'pw'),
      baseDn: slapd.baseDn,
      timeoutMs: 2000,
    });
  }, 60_000);

  afterAll(async () => {
    await directory?.close();
    await slapd?.stop();
    if (secrets) rmSync(secrets, { recursive: true, force: true });
  });

  /** Our established connections to `url` (client side: destination port = slapd's). */
  async function connections(url: string): Promise<number> {
    const r = await run('ss', ['-Htn', 'state', 'established', `dport = :${new URL(url).port}`]);
    return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
  }

  it('finds an account by UPN, mail, sAMAccountName and binary objectSid, with the AD attributes', async () => {
    const sid = `${DOMAIN_SID}-1106`;
    const want = {
      dn: 'uid=bob,ou=people,dc=example,dc=test',
      userPrincipalName: 'bob@example.test',
      mail: 'bob@example.test',
      sAMAccountName: 'bob',
      objectSid: sid,
    };
    for (const [by, value] of [
      ['upn', 'BOB@example.test'],
      ['mail', 'bob@example.test'],
      ['sAMAccountName', 'bob'],
      ['objectSid', sid],
    ] as const) {
      expect(await directory.findIdentity(by, value), by).toEqual(want);
    }
  });

  it('refuses disabled (userAccountControl 0x2) and missing accounts as unauthorized with the reason', async () => {
    await expect(directory.findIdentity('sAMAccountName', 'dave')).rejects.toMatchObject({
      code: ErrorCodes.unauthorized,
      clientMessage: 'the directory account is disabled',
    });
    await expect(directory.findIdentity('objectSid', `${DOMAIN_SID}-999`)).rejects.toMatchObject({
      code: ErrorCodes.unauthorized,
      clientMessage: 'no directory account matches the request',
    });
  });

  it.each([
    ['ldap://', false],
    ['ldap:// + StartTLS', true],
    ['ldaps://', false],
  ])(
    '%s: one bound connection for sequential and concurrent lookups, bound again after a drop',
    async (mode, startTls) => {
      const url = mode === 'ldaps://' ? slapd.ldapsUrl! : slapd.url;
      const others = await connections(url); // the suite's own directory, idle
      const d = await LdapDirectory.open({
        url,
        startTls,
        ca: slapd.caFile!,
        bindDn: slapd.bindDn,
        bindPasswordFile: join(secrets, 'pw'),
        baseDn: slapd.baseDn,
        timeoutMs: 2000,
      });
      try {
        for (let i = 0; i < 10; i++) await d.findIdentity('sAMAccountName', 'alice');
        await Promise.all(Array.from({ length: 10 }, () => d.findIdentity('upn', 'carol@example.test')));
        expect(await connections(url)).toBe(others + 1);

        // the kernel aborts our side of the connection (as a DC restart or a firewall idle timeout would)
        expect((await run('ss', ['-K', '-tn', 'dport', '=', `:${new URL(url).port}`])).code).toBe(0);
        expect(await connections(url)).toBe(0);
        expect((await d.findIdentity('sAMAccountName', 'alice')).sAMAccountName).toBe('alice');
        expect(await connections(url)).toBe(1);
      } finally {
        await d.close();
      }
    },
  );
});
