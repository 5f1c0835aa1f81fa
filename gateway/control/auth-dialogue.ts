import type { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCodes, isOutpostError, OutpostError } from '../../core/errors.js';
import { sourceAddressKey } from '../auth/source-address-key.js';
import {
  buildAuthComplete,
  buildAuthRequest,
  type ConfigAuthMessage,
  parseConfigAuth,
} from '../cstp/index.js';
import type { Identity } from '../session/identity.js';
import type { Session } from '../session/session.js';
import type { SessionTable } from '../session/session-table.js';
import { LogLimiter } from './log-limiter.js';
import type { BanList, GatewayAuthenticators } from './ports.js';

export interface DialogueRequest {
  path: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  remoteAddress: string;
  /** The TLS client certificate chain, leaf first, when the client sent one. */
  clientChainDer: Buffer[];
  /** The same chain as Node parsed it for the TLS socket (not parsed again), when at hand. */
  clientChain?: X509Certificate[];
  /**
   * The CA certificates (DER) OpenSSL verified the client chain against in the TLS handshake,
   * when it did (the socket is `authorized`); the certificate authenticator may skip what that
   * verification already proved.
   */
  clientChainVerifiedAgainst?: readonly Buffer[];
}

export interface DialogueResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

const maxAuthXmlBytes = 64 * 1024;
const xmlHeaders = { 'content-type': 'text/xml', 'x-transcend-version': '1' };

function bearerChallenge(): DialogueResponse {
  return {
    status: 401,
    headers: { 'www-authenticate': 'Bearer', 'content-type': 'text/plain', 'x-transcend-version': '1' },
    body: 'a bearer token is required\n',
  };
}

function bearerToken(headers: DialogueRequest['headers']): string | undefined {
  const value = headers.authorization;
  const text = Array.isArray(value) ? value[0] : value;
  const match = text ? /^Bearer\s+(\S{1,16384})$/i.exec(text) : null;
  return match?.[1];
}

/**
 * The AnyConnect XML "config-auth" dialogue, as ocserv runs it (shared/peers/cstp-transcript.txt):
 * `init` → `auth-request` form → `auth-reply` → `complete` with `Set-Cookie: webvpn=…`. A client
 * certificate or a bearer token completes at the first request. A refusal is another
 * auth-request carrying the message — never a dropped socket.
 */
export class AuthDialogue {
  private readonly refusalLog = new LogLimiter();

  constructor(
    private options: {
      methods: ReadonlyArray<'certificate' | 'password' | 'token'>;
      authenticators: GatewayAuthenticators;
      sessions: SessionTable;
      bans: BanList;
      logger: Logger;
      /**
       * Groups offered in the login form (ocserv's select-group); a chosen group must be one the
       * user belongs to, `isMember` decides.
       */
      selectableGroups?: {
        names: readonly string[];
        isMember: (identity: Identity, group: string) => boolean;
      };
      /**
       * Awaited before the cookie is handed out (gateway/site: the session is written to the
       * site's shared state, so a CONNECT to any node finds it). A failure is logged; the
       * session still works on this node.
       */
      sessionCreated?: (session: Session) => Promise<void>;
      /** Counts refusals by reason (banned, malformed, unauthorized, unavailable, busy). */
      onFailure?: (reason: 'banned' | 'malformed' | 'unauthorized' | 'unavailable' | 'busy') => void;
    },
  ) {}

  /**
   * Swaps the enabled methods, their authenticators and the selectable groups (live
   * reconfiguration). A dialogue already past its first request finishes with what it started with.
   */
  reconfigure(
    changes: Pick<AuthDialogue['options'], 'methods' | 'authenticators' | 'selectableGroups'>,
  ): void {
    const { selectableGroups: _previous, ...rest } = this.options;
    this.options = { ...rest, ...changes };
  }

  async handle(request: DialogueRequest): Promise<DialogueResponse> {
    const { bans } = this.options;
    const failed = this.options.onFailure ?? (() => undefined);
    if (bans.isBanned(request.remoteAddress)) {
      failed('banned');
      // Keyed like the ban (an IPv6 /64 counts as one): a host rotating addresses in its prefix
      // must not buy a log line per address.
      if (this.refusalLog.allow(sourceAddressKey(request.remoteAddress))) {
        this.options.logger.warn(
          { remote: request.remoteAddress },
          'refused: the address is banned (ban points); `outpost sessions bans` lists bans, `sessions unban` lifts one (logged once a minute per address)',
        );
      }
      return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'banned\n' };
    }
    let message: ConfigAuthMessage;
    try {
      // A GET (or an empty POST) is the pre-XML AnyConnect flow: it starts like an `init`.
      message =
        request.body.trim() === ''
          ? { type: 'init', authMethods: [] }
          : parseConfigAuth(request.body, { maxBytes: maxAuthXmlBytes });
    } catch {
      bans.penalize(request.remoteAddress, 'protocol');
      failed('malformed');
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'malformed config-auth\n' };
    }
    try {
      if (this.wantsBearerChallenge(request)) return bearerChallenge();
      const authenticated = await this.authenticate(request, message);
      if (!authenticated) return this.form(undefined, message.groupSelect);
      const identity = this.withSelectedGroup(authenticated, message.groupSelect);
      return await this.complete(identity, request.remoteAddress, message.deviceId?.uniqueId);
    } catch (e) {
      if (!isOutpostError(e) || e.code !== ErrorCodes.unauthorized) {
        if (isOutpostError(e) && e.code === ErrorCodes.busy) {
          failed('busy');
          return this.form(e.clientMessage);
        }
        failed('unavailable');
        this.options.logger.error({ err: e, remote: request.remoteAddress }, 'authentication error');
        return this.form('Authentication is unavailable, try again later.');
      }
      bans.penalize(request.remoteAddress, 'auth');
      failed('unauthorized');
      this.options.logger.info({ remote: request.remoteAddress, reason: e.message }, 'authentication failed');
      return this.form(`Login failed. ${e.clientMessage}`);
    }
  }

  /** Returns an identity, or undefined when the client must first be shown the form. */
  private async authenticate(
    request: DialogueRequest,
    message: ConfigAuthMessage,
  ): Promise<Identity | undefined> {
    const { methods, authenticators } = this.options;
    if (methods.includes('certificate') && authenticators.certificate && request.clientChainDer.length > 0) {
      return authenticators.certificate(
        request.clientChainDer,
        request.remoteAddress,
        request.clientChain,
        request.clientChainVerifiedAgainst,
      );
    }
    const token = bearerToken(request.headers);
    if (methods.includes('token') && authenticators.token && token) {
      return authenticators.token(token, request.remoteAddress);
    }
    if (methods.includes('password') && authenticators.password) {
      if (
        message.type !== 'auth-reply' ||
        message.auth.username === undefined ||
        message.auth.password === undefined
      ) {
        return undefined;
      }
      return authenticators.password(message.auth.username, message.auth.password, request.remoteAddress);
    }
    throw new OutpostError(ErrorCodes.unauthorized, 'No accepted credentials were presented.');
  }

  /**
   * openconnect --token-mode=oidc first sends no credentials and adds `Authorization: Bearer`
   * only after a 401 whose WWW-Authenticate names Bearer, matched case-sensitively (its
   * http-auth.c). openconnect 9.01 then trips over its own disabled-by-default Basic entry on the
   * retry of the XML POST, falls back to `GET /`, and only that second 401 gets the token sent
   * (Basic is marked failed by then), so the GET path must challenge and complete the same way.
   * A token-only gateway challenges a request that carries neither a token nor a client
   * certificate; with password auth enabled too, such clients get the form instead.
   */
  private wantsBearerChallenge(request: DialogueRequest): boolean {
    const { methods, authenticators } = this.options;
    return (
      methods.includes('token') &&
      authenticators.token !== undefined &&
      !methods.includes('password') &&
      bearerToken(request.headers) === undefined &&
      request.clientChainDer.length === 0
    );
  }

  /** Applies the group chosen in the form; refuses a group the user is not a member of. */
  private withSelectedGroup(identity: Identity, chosen: string | undefined): Identity {
    const selectable = this.options.selectableGroups;
    if (!selectable || chosen === undefined || chosen === '') return identity;
    if (!selectable.names.includes(chosen)) {
      throw new OutpostError(ErrorCodes.unauthorized, `Unknown group ${chosen}.`);
    }
    if (!selectable.isMember(identity, chosen)) {
      throw new OutpostError(ErrorCodes.unauthorized, `You are not a member of group ${chosen}.`);
    }
    return { ...identity, selectedGroup: chosen };
  }

  private form(error?: string, selectedGroup?: string): DialogueResponse {
    const { methods } = this.options;
    const groups = this.options.selectableGroups?.names ?? [];
    const fields = methods.includes('password')
      ? [
          { type: 'text' as const, name: 'username', label: 'Username:' },
          { type: 'password' as const, name: 'password', label: 'Password:' },
        ]
      : [];
    const body = buildAuthRequest({
      formId: 'main',
      message:
        fields.length > 0
          ? 'Please enter your username and password.'
          : 'A client certificate or token is required.',
      ...(error ? { error } : {}),
      fields,
      ...(groups.length > 0 ? { groups: [...groups], ...(selectedGroup ? { selectedGroup } : {}) } : {}),
    });
    return { status: 200, headers: { ...xmlHeaders }, body };
  }

  private async complete(
    identity: Identity,
    remoteAddress: string,
    deviceId: string | undefined,
  ): Promise<DialogueResponse> {
    const withDevice = deviceId ? { ...identity, device: deviceId } : identity;
    const { session, cookie } = this.options.sessions.create(withDevice, remoteAddress);
    await this.options.sessionCreated?.(session).catch((e: unknown) => {
      this.options.logger.warn(
        { err: e, session: session.id },
        'session not written to the site state: it cannot be resumed on another node',
      );
    });
    this.options.logger.info(
      { session: session.id, user: identity.username, method: identity.method, remote: remoteAddress },
      'authenticated',
    );
    const body = buildAuthComplete({ sessionToken: cookie, message: 'Welcome.' });
    return {
      status: 200,
      headers: {
        ...xmlHeaders,
        'set-cookie': [`webvpn=${cookie}; Secure; HttpOnly`],
      },
      body,
    };
  }
}
