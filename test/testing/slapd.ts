import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { caExtensions, TestPki } from '../../certs/testing/test-pki.js';
import { encodeObjectSid } from '../../directory/object-sid.js';

/** What a test needs to talk to the fixture; passwords are fixture-only constants. */
export interface RunningSlapd {
  url: string;
  ldapsUrl?: string;
  /** CA that signed the ldaps:// / StartTLS server certificate. */
  caFile?: string;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  /** Every fixture user has this password. */
  userPassword: string;
  pid: number;
  /** SIGSTOP / SIGCONT: the server keeps its sockets but stops answering (a hung directory). */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export interface FixtureUser {
  uid: string;
  givenName: string;
  sn: string;
  rid: number;
  /** More object classes (e.g. adLiteAccount from ad-schema.ts) and attributes for this entry. */
  objectClasses?: string[];
  attributes?: Record<string, string | string[]>;
}

export interface SlapdOptions {
  /** Also listen on ldaps:// with a fresh CA (StartTLS on ldap:// then works too). */
  tls?: boolean;
  users?: FixtureUser[];
  /** Group cn → member uids. */
  groups?: Record<string, string[]>;
  /** Run slapd inside this network namespace (on its loopback), for a gateway running there. */
  netns?: string;
  /** More schema files (name → text) loaded after ad-lite.schema, e.g. ad-schema.ts's AD_ACCOUNT_SCHEMA. */
  schemas?: Record<string, string>;
}

/** [command, args] to run `cmd` inside `netns` when one is given. */
function inNetns(netns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
}

/**
 * shared/peers/ldap/ad-lite.schema, kept here so the project's tests need nothing outside the repo:
 * the real AD OIDs for objectSid, objectGUID, sAMAccountName and userPrincipalName, but *with*
 * matching rules (Debian's msuser.schema has none, so equality filters would never match).
 */
const AD_LITE_SCHEMA = `# ad-lite.schema - minimal Active-Directory-like attributes for connector tests.
# Uses the real AD attribute OIDs but *with* matching rules (Debian's msuser.schema
# has none, so filters like (sAMAccountName=x) would never match).
# Do not load together with msuser.schema (OID/name clash).

attributetype ( 1.2.840.113556.1.4.146 NAME 'objectSid'
	DESC 'AD security identifier, binary (revision|count|authority|subauths LE)'
	EQUALITY octetStringMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.2 NAME 'objectGUID'
	DESC 'AD object GUID, 16 bytes binary'
	EQUALITY octetStringMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )

attributetype ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName'
	EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{1024} SINGLE-VALUE )

attributetype ( 1.3.6.1.4.1.99999.1.1.1 NAME 'objectSidString'
	DESC 'fixture-only: textual SID (S-1-5-21-...) for easy filtering'
	EQUALITY caseIgnoreIA5Match
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE )

objectclass ( 1.3.6.1.4.1.99999.1.2.1 NAME 'adLiteObject'
	DESC 'fixture-only auxiliary class carrying AD-like identifiers'
	SUP top AUXILIARY
	MAY ( objectSid $ objectGUID $ sAMAccountName $ userPrincipalName $ objectSidString ) )
`;
const BASE = 'dc=example,dc=test';
const DOMAIN_SID = 'S-1-5-21-1004336348-1177238915-682003330';

export const FIXTURE_USERS: FixtureUser[] = [
  { uid: 'alice', givenName: 'Alice', sn: 'Anderson', rid: 1105 },
  { uid: 'bob', givenName: 'Bob', sn: 'Brown', rid: 1106 },
  { uid: 'carol', givenName: 'Carol', sn: 'Clark', rid: 1107 },
  // a name full of RFC 4515 specials: the filter must match it literally and nothing else
  { uid: 'o(brien)*', givenName: 'Olivia', sn: "O'Brien", rid: 1109 },
];

export const FIXTURE_GROUPS: Record<string, string[]> = {
  'vpn-users': ['alice', 'bob'],
  'pki-admins': ['carol'],
  'Sales, EMEA': ['alice'],
};

/**
 * OpenLDAP 2.5 with the AD-like schema, modelled on shared/peers/start-slapd.sh: a slapd.conf in a
 * temp dir, the base entries loaded offline with slapadd, groups added online (ldapadd) so that
 * the memberof overlay fills the users' memberOf, slapd in the foreground (-d 0) so we own its PID.
 * Ports are free loopback ports, so fixtures in parallel test files do not collide.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<RunningSlapd> {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-slapd-'));
  let child: ChildProcess | undefined;
  try {
    mkdirSync(join(dir, 'db'));
    writeFileSync(join(dir, 'ad-lite.schema'), AD_LITE_SCHEMA);
    const schemaFiles = Object.entries(options.schemas ?? {}).map(([name, text]) => {
      const file = join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
      writeFileSync(file, text);
      return file;
    });
    const users = options.users ?? FIXTURE_USERS;
    const groups = options.groups ?? FIXTURE_GROUPS;
    const adminDn = `cn=admin,${BASE}`;
    const adminPassword = 'admin-password';
    const bindDn = `cn=svc-connector,ou=services,${BASE}`;
    const bindPassword = 'svc-password';
    const userPassword = 'user-password';

    const tls = options.tls ? await makeTls(dir) : undefined;
    const [ldapPort, ldapsPort] = [await freePort(), tls ? await freePort() : 0];
    writeFileSync(
      join(dir, 'slapd.conf'),
      slapdConf(dir, adminDn, await hash(adminPassword), bindDn, tls, schemaFiles),
    );
    writeFileSync(
      join(dir, 'base.ldif'),
      await baseLdif(bindDn, await hash(bindPassword), await hash(userPassword), users),
    );
    writeFileSync(join(dir, 'groups.ldif'), groupsLdif(groups));
    await exec('slapadd', ['-q', '-f', join(dir, 'slapd.conf'), '-l', join(dir, 'base.ldif')]);

    const url = `ldap://127.0.0.1:${ldapPort}`;
    const ldapsUrl = tls ? `ldaps://127.0.0.1:${ldapsPort}` : undefined;
    const urls = ldapsUrl ? `${url}/ ${ldapsUrl}/` : `${url}/`;
    const started = spawn(
      ...inNetns(options.netns, 'slapd', ['-d', '0', '-h', urls, '-f', join(dir, 'slapd.conf')]),
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    child = started;
    let log = '';
    started.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    await waitReady(url, adminDn, adminPassword, started, () => log, options.netns);
    await exec(
      ...inNetns(options.netns, 'ldapadd', [
        '-x',
        '-H',
        url,
        '-D',
        adminDn,
        '-w',
        adminPassword,
        '-f',
        join(dir, 'groups.ldif'),
      ]),
    );

    const pid = started.pid!;
    return {
      url,
      ...(ldapsUrl ? { ldapsUrl, caFile: tls!.caFile } : {}),
      bindDn,
      bindPassword,
      baseDn: BASE,
      adminDn,
      adminPassword,
      userPassword,
      pid,
      pause: () => process.kill(pid, 'SIGSTOP'),
      resume: () => process.kill(pid, 'SIGCONT'),
      stop: () => stop(started, dir),
    };
  } catch (e) {
    if (child) await stop(child, dir);
    else rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function slapdConf(
  dir: string,
  adminDn: string,
  adminHash: string,
  bindDn: string,
  tls?: Tls,
  schemaFiles: string[] = [],
): string {
  const tlsLines = tls
    ? `TLSCACertificateFile ${tls.caFile}\nTLSCertificateFile ${tls.certFile}\nTLSCertificateKeyFile ${tls.keyFile}\n`
    : '';
  return `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include ${dir}/ad-lite.schema
${schemaFiles.map((f) => `include ${f}\n`).join('')}
pidfile  ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
${tlsLines}
database mdb
suffix "${BASE}"
rootdn "${adminDn}"
rootpw ${adminHash}
directory ${dir}/db
maxsize 67108864
index objectClass eq
index uid,cn,mail,sAMAccountName,userPrincipalName eq
index objectSid,objectSidString,member eq

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by dn.exact="${bindDn}" read
  by self read
  by * none
`;
}

function userDn(uid: string): string {
  // RFC 4514 §2.4: escape the characters that are special in a DN value.
  return `uid=${uid.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`)},ou=people,${BASE}`;
}

async function baseLdif(
  bindDn: string,
  svcHash: string,
  userHash: string,
  users: FixtureUser[],
): Promise<string> {
  const parts = [
    `dn: ${BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example Test Org\n`,
    `dn: ou=people,${BASE}\nobjectClass: organizationalUnit\nou: people\n`,
    `dn: ou=groups,${BASE}\nobjectClass: organizationalUnit\nou: groups\n`,
    `dn: ou=services,${BASE}\nobjectClass: organizationalUnit\nou: services\n`,
    `dn: ${bindDn}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc-connector\nuserPassword: ${svcHash}\n`,
  ];
  for (const u of users) {
    const sid = `${DOMAIN_SID}-${u.rid}`;
    parts.push(
      [
        `dn: ${userDn(u.uid)}`,
        'objectClass: inetOrgPerson',
        'objectClass: adLiteObject',
        ...(u.objectClasses ?? []).map((c) => `objectClass: ${c}`),
        `uid: ${u.uid}`,
        `cn: ${u.givenName} ${u.sn}`,
        `givenName: ${u.givenName}`,
        `sn: ${u.sn}`,
        `displayName: ${u.givenName} ${u.sn}`,
        `mail: ${u.uid.replace(/[^a-z0-9]/g, '')}@example.test`,
        `sAMAccountName: ${u.uid}`,
        `userPrincipalName: ${u.uid.replace(/[^a-z0-9]/g, '')}@example.test`,
        `objectSid:: ${encodeObjectSid(sid).toString('base64')}`,
        `objectSidString: ${sid}`,
        `userPassword: ${userHash}`,
        ...Object.entries(u.attributes ?? {}).flatMap(([name, values]) =>
          (Array.isArray(values) ? values : [values]).map((v) => ldifLine(name, v)),
        ),
        '',
      ].join('\n'),
    );
  }
  return parts.join('\n');
}

/** RFC 2849: a value that is not a SAFE-STRING goes base64 ("name:: …"). */
function ldifLine(name: string, value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: LDIF SAFE-CHAR excludes NUL, LF and CR
  const safe = /^[^\0\n\r :<][^\0\n\r]*$/.test(value) && /^[\x00-\x7f]*$/.test(value) && !value.endsWith(' ');
  return safe ? `${name}: ${value}` : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}`;
}

function groupsLdif(groups: Record<string, string[]>): string {
  return Object.entries(groups)
    .map(([cn, members]) =>
      [
        `dn: cn=${cn.replace(/[,+"\\<>;=]/g, (c) => `\\${c}`)},ou=groups,${BASE}`,
        'objectClass: groupOfNames',
        `cn: ${cn}`,
        ...members.map((uid) => `member: ${userDn(uid)}`),
        '',
      ].join('\n'),
    )
    .join('\n');
}

export interface Tls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * EC P-256 CA and a server certificate for 127.0.0.1 / localhost, as start-slapd.sh makes them
 * (also the PostgreSQL fixture's).
 */
export async function makeTls(dir: string): Promise<Tls> {
  const pki = new TestPki({ dir });
  pki.selfSigned('ca', { subject: '/CN=Fixture LDAP CA', days: 2, extensions: caExtensions });
  pki.issue('server', {
    issuer: 'ca',
    subject: '/CN=localhost',
    days: 2,
    extensions: [
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      'extendedKeyUsage=serverAuth',
      'keyUsage=critical,digitalSignature',
    ],
  });
  return { caFile: pki.path('ca.pem'), certFile: pki.path('server.pem'), keyFile: pki.path('server.key') };
}

async function hash(password: string): Promise<string> {
  return (await exec('slappasswd', ['-h', '{SSHA}', '-s', password])).trim();
}

function exec(cmd: string, args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(cmd, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`${cmd} failed: ${stderr || error.message}`));
      else done(stdout);
    });
  });
}

async function waitReady(
  url: string,
  adminDn: string,
  adminPassword: string,
  child: ChildProcess,
  log: () => string,
  netns?: string,
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`slapd exited:\n${log()}`);
    try {
      await exec(...inNetns(netns, 'ldapwhoami', ['-x', '-H', url, '-D', adminDn, '-w', adminPassword]));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`slapd not ready after 10 s:\n${log()}`);
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGCONT'); // a paused slapd cannot handle SIGTERM
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
