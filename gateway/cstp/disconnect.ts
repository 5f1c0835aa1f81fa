import { encodeFrame, FrameType } from './frame.js';

/**
 * The one DISCONNECT reason byte both peers know: openconnect's cstp_bye() sends
 * 0xb0 + reason text ("Send BYE packet: Aborted by caller" in the transcript), and ocserv
 * (worker-vpn.c parse_data) reads 0xb0 as "the user disconnected on purpose".
 */
export const DISCONNECT_REASON_USER = 0xb0;

/** Longest reason text we decode or send; openconnect's own reasons are a few words. */
export const MAX_DISCONNECT_MESSAGE = 200;

/**
 * What a client's DISCONNECT means, following ocserv worker-vpn.c parse_data:
 * - `user`: 0xb0 first; an explicit disconnect (openconnect Ctrl-C, AnyConnect "Disconnect").
 *   The session can be ended and its cookie refused.
 * - `temporary`: empty payload; AnyConnect sends this when it intends to reconnect (e.g. the
 *   network changed; ocserv issue #281). Keep the session so the cookie still works.
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
  return { kind: reasonCode === DISCONNECT_REASON_USER ? 'user' : 'unrecognized', reasonCode, message };
}

/**
 * A DISCONNECT frame from the server. Without a message the payload is empty, exactly what ocserv
 * sends (worker-vpn.c cstp_send_terminate); openconnect then logs "Received server disconnect".
 * With a message it logs "Received server disconnect: b0 '<message>'" (cstp.c), so pass only a
 * client-safe message (OutpostError.clientMessage). Non-printable characters become '.'.
 */
export function encodeDisconnect(message?: string, reasonCode: number = DISCONNECT_REASON_USER): Buffer {
  if (!message) return encodeFrame(FrameType.disconnect);
  const text = message.slice(0, MAX_DISCONNECT_MESSAGE);
  const payload = Buffer.allocUnsafe(1 + text.length);
  payload[0] = reasonCode & 0xff;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    payload[1 + i] = c >= 0x20 && c < 0x7f ? c : 0x2e;
  }
  return encodeFrame(FrameType.disconnect, payload);
}
