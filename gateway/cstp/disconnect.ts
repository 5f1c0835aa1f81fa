import { encodeFrame, FrameType } from './frame.js';

/**
 * The reason bytes of a DISCONNECT (AC_PKT_DISCONN) payload, as ocserv names them (src/vpn.h
 * "Disconnect reason for AC_PKT_DISCONN"). openconnect's cstp_bye() sends 0xb0 + a text
 * ("Send BYE packet: Aborted by caller" in the transcript); Cisco ASAs send 0xb0 + a text to the
 * client too (openconnect then prints "Received server disconnect: b0 'Idle Timeout'").
 */
export const DisconnectCode = {
  /** AC_BYE_USER_DISCONNECT: the user asked to disconnect. */
  userDisconnect: 0xb0,
  /** AC_BYE_LOCAL_ERROR: e.g. the client could not change its routing table. */
  localError: 0x70,
  /** AC_BYE_VPN_RECONNECT: the tunnel is reconnecting (the client keeps its session). */
  vpnReconnect: 0x91,
  /** AC_BYE_VPN_PAUSE: the tunnel is paused. */
  vpnPause: 0xd1,
} as const;

/** Longest reason text we decode or send; openconnect's own reasons are a few words. */
export const MAX_DISCONNECT_MESSAGE = 200;

/**
 * What a client's DISCONNECT means, following ocserv worker-vpn.c parse_data (AC_PKT_DISCONN):
 * - `user`: 0xb0 first; an explicit disconnect (openconnect Ctrl-C, AnyConnect "Disconnect").
 *   The session can be ended and its cookie refused (REASON_USER_DISCONNECT).
 * - `temporary`: empty payload, or 0x91 (VPN reconnect); AnyConnect sends these when it intends
 *   to reconnect (e.g. the network changed; ocserv issue #281). Keep the session so the cookie
 *   still works (REASON_TEMP_DISCONNECT).
 * - `unrecognized`: anything else; ocserv treats it as a protocol error.
 */
export interface ClientDisconnect {
  kind: 'user' | 'temporary' | 'unrecognized';
  reasonCode?: number;
  /** Printable ASCII only (others become '.', as openconnect prints them), at most 200 characters. */
  message: string;
}

export function parseDisconnect(payload: Uint8Array): ClientDisconnect {
  if (payload.length === 0) return { kind: 'temporary', message: '' };
  const reasonCode = payload[0]!;
  const end = Math.min(payload.length, 1 + MAX_DISCONNECT_MESSAGE);
  let message = '';
  for (let i = 1; i < end; i++) {
    const c = payload[i]!;
    message += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '.';
  }
  const kind =
    reasonCode === DisconnectCode.userDisconnect
      ? 'user'
      : reasonCode === DisconnectCode.vpnReconnect
        ? 'temporary'
        : 'unrecognized';
  return { kind, reasonCode, message };
}

/**
 * Why the server ends a tunnel: a fixed set, each its own client-safe text. Where ocserv has the
 * same reason, the text is ocserv's (src/common/common.c discon_reason_to_str, for the REASON_*
 * of src/defs.h); ocserv's one REASON_SERVER_DISCONNECT ("server disconnected") is split into
 * the shutdown, administrator, revocation and replacement cases Outpost tells apart.
 */
export const serverDisconnectReasons = [
  /** REASON_IDLE_TIMEOUT: no data either way for the idle timeout (mobile or not). */
  'idle timeout',
  /** REASON_SESSION_TIMEOUT: the session's lifetime (gateway.timers.session) is over. */
  'session timeout',
  /** REASON_DPD_TIMEOUT: nothing heard for 3 × DPD; the client is most likely gone already. */
  'DPD timeout',
  /** REASON_SERVER_DISCONNECT on SIGTERM. */
  'server shutdown',
  /** REASON_SERVER_DISCONNECT after `occtl disconnect`: here `outpost sessions disconnect`. */
  'disconnected by an administrator',
  /** A `session.revoke` job from the cloud (the cookie is refused from then on). */
  'revoked by the cloud',
  /** The same cookie opened a new tunnel (a reconnect); the old one ends. */
  'replaced by a new connection',
  /**
   * `sessions drain on --migrate`: sent as no frame at all (gateway/tunnel/cstp-tunnel.ts), so
   * that the client reconnects with its cookie, to another node of the site.
   */
  'moved to another node',
] as const;
export type ServerDisconnectReason = (typeof serverDisconnectReasons)[number];

const serverDisconnectReasonSet: ReadonlySet<string> = new Set(serverDisconnectReasons);

export function isServerDisconnectReason(reason: string): reason is ServerDisconnectReason {
  return serverDisconnectReasonSet.has(reason);
}

/**
 * The DISCONNECT frame (type 5) that ends a tunnel from the server side. ocserv sends this frame
 * type for every server-side end (worker-vpn.c cstp_send_terminate, on idle timeout, session
 * timeout, SIGTERM from `occtl disconnect` or shutdown), never TERMINATE (type 9); it sends it
 * empty, so openconnect only logs "Received server disconnect". We add what an ASA adds, the
 * reason byte 0xb0 and the reason's text, so the client can say why (openconnect cstp.c:
 * "Received server disconnect: b0 'idle timeout'", then "Session terminated by server; exiting.").
 * openconnect and AnyConnect treat both forms alike: the session is over.
 */
export function encodeServerDisconnect(reason: ServerDisconnectReason): Buffer {
  return encodeFrame(FrameType.disconnect, serverDisconnectPayload(reason));
}

/** The payload of `encodeServerDisconnect`, for transports that frame it themselves. */
export function serverDisconnectPayload(reason: ServerDisconnectReason): Buffer {
  return disconnectPayload(reason, DisconnectCode.userDisconnect);
}

/**
 * A DISCONNECT frame. Without a message the payload is empty, exactly what ocserv sends
 * (worker-vpn.c cstp_send_terminate); openconnect then logs "Received server disconnect".
 * With a message it logs "Received server disconnect: b0 '<message>'" (cstp.c), so pass only a
 * client-safe message. Non-printable characters become '.'.
 */
export function encodeDisconnect(
  message?: string,
  reasonCode: number = DisconnectCode.userDisconnect,
): Buffer {
  if (!message) return encodeFrame(FrameType.disconnect);
  return encodeFrame(FrameType.disconnect, disconnectPayload(message, reasonCode));
}

/** Reason byte + printable ASCII (others become '.'), the text cut at MAX_DISCONNECT_MESSAGE. */
function disconnectPayload(message: string, reasonCode: number): Buffer {
  const text = message.slice(0, MAX_DISCONNECT_MESSAGE);
  const payload = Buffer.allocUnsafe(1 + text.length);
  payload[0] = reasonCode & 0xff;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    payload[1 + i] = c >= 0x20 && c < 0x7f ? c : 0x2e;
  }
  return payload;
}
