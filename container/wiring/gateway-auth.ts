import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { toPem } from '../../certs/pem.js';
import { ErrorCodes, OutpostError } from '../../core/errors.js';
import { LdapDirectory } from '../../directory/ldap-directory.js';
import { directoryConfigFromEntry } from '../../directory/ldap-directory-config.js';
import type { AuthResult } from '../../gateway/auth/auth-result.js';
import { BanPoints } from '../../gateway/auth/ban-points.js';
import { CertificateAuthenticator } from '../../gateway/auth/certificate-authenticator.js';
import { PasswordAuthenticator } from '../../gateway/auth/password-authenticator.js';
import { inventoryRevocationCheck } from '../../gateway/auth/revocation-check.js';
import { TokenAuthenticator } from '../../gateway/auth/token-authenticator.js';
import { tokenKeySource } from '../../gateway/auth/token-key-source.js';
import type { BanList, GatewayAuthenticators } from '../../gateway/control/ports.js';
import type { Identity } from '../../gateway/session/identity.js';
import type { OutpostConfig } from '../config/schema.js';
import type { ConnectorCore } from './connector-core.js';

function identity(result: AuthResult): Identity {
  return { username: result.username, groups: result.groups, method: result.method };
}

export interface GatewayAuthWiring {
  authenticators: GatewayAuthenticators;
  bans: BanList & BanPoints;
  /** PEM CA bundle the TLS server asks client certificates for (certificate auth only). */
  clientCaPem?: string;
  close(): Promise<void>;
}

/**
 * Builds the authenticators `gateway.auth.methods` enables: certificate (chain to the built-in CA
 * or a bundle; revocation from the connector's inventory for the built-in CA), password (LDAP, by
 * directory name), token (JWKS). Failures feed ocserv-style ban points per source address.
 */
export async function gatewayAuth(
  config: OutpostConfig,
  core: ConnectorCore,
  /** A live reconfiguration keeps the ban points already collected. */
  existingBans?: GatewayAuthWiring['bans'],
): Promise<GatewayAuthWiring> {
  const auth = config.gateway.auth;
  const banList = existingBans ?? banListOf(new BanPoints());
  const authenticators: GatewayAuthenticators = {};
  const closers: Array<() => Promise<void>> = [];
  let clientCaPem: string | undefined;

  if (auth.methods.includes('certificate')) {
    const builtin = auth.certificate.ca === 'builtin';
    clientCaPem = builtin
      ? toPem('CERTIFICATE', core.ca.caCertificateDer)
      : await readCaBundle(auth.certificate.ca);
    const certificates = new CertificateAuthenticator({
      trustAnchorsPem: clientCaPem,
      usernameFrom: auth.certificate.usernameFrom,
      // The subject's OU values are the groups a per-group policy can match (ocserv's cert-group-oid).
      groupsFrom: 'ou',
      ...(builtin
        ? {
            revocation: inventoryRevocationCheck(
              core.inventory,
              new X509Certificate(core.ca.caCertificateDer),
            ),
          }
        : { acceptUnknownStatus: true }),
    });
    authenticators.certificate = async (chainDer, _remote, chain, tlsVerifiedAgainst) =>
      identity(await certificates.authenticate(chainDer, chain, tlsVerifiedAgainst));
  }
  if (auth.methods.includes('password')) {
    const settings = config.directories[auth.password.directory!]!;
    // The same mapping (AD / OpenLDAP preset, attribute overrides, paging) as the connector's lookups.
    const directory = await LdapDirectory.open(directoryConfigFromEntry(settings));
    closers.push(() => directory.close());
    const passwords = new PasswordAuthenticator(directory);
    authenticators.password = async (username, password) =>
      identity(await passwords.authenticate(username, password));
  }
  if (auth.methods.includes('token')) {
    const tokens = new TokenAuthenticator({
      keys: await tokenKeySource(auth.token.jwks!),
      ...(auth.token.issuer ? { issuer: auth.token.issuer } : {}),
      audience: auth.token.audience,
      usernameClaim: auth.token.usernameClaim,
    });
    authenticators.token = async (token) => identity(await tokens.authenticate(token));
  }
  return {
    authenticators,
    bans: banList,
    ...(clientCaPem ? { clientCaPem } : {}),
    close: async () => {
      await Promise.all(closers.map((close) => close()));
    },
  };
}

function banListOf(bans: BanPoints): GatewayAuthWiring['bans'] {
  return Object.assign(bans, {
    isBanned: (address: string) => bans.bannedFor(address) > 0,
    penalize: (address: string, kind: 'auth' | 'protocol') =>
      void bans.addFailure(address, kind === 'auth' ? 'wrongPassword' : 'connection'),
  });
}

async function readCaBundle(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: unknown) => {
    throw new OutpostError(ErrorCodes.config, `gateway.auth.certificate.ca: cannot read ${path}`, {
      cause: e,
    });
  });
}
