import { defaultMaxHeadBytes, readHeaderLines } from './connect-head.js';
import type { HeaderMap } from './connect-request.js';

/**
 * An auth POST (`POST <path> HTTP/1.1` with a Content-Length body) read whole from the bytes a
 * connection sent, without Node's HTTP server (its parser, IncomingMessage and ServerResponse cost
 * every certificate login more than the dialogue's own answer).
 *
 * Pure and deliberately narrow, as connect-head.ts (whose header grammar it shares): only a request
 * that Node's strict parser also accepts, reads to the same method, URL, headers and body, and
 * answers with a plain keep-alive response is taken. Anything else is declined with a stable
 * reason and goes to the HTTP server, which then answers it exactly as it always has (400, 408,
 * 413, 417, `Connection: close`, chunked bodies, GETs). openconnect writes each POST, head and
 * body, in one buffer (http.c do_https_request), so a whole request is in one cleartext chunk.
 */
export type AuthPostResult =
  | {
      kind: 'post';
      /** The request target as Node's req.url gives it. */
      target: string;
      /** Lower-cased names, repeats merged as Node's IncomingMessage merges them (req.headers). */
      headers: HeaderMap;
      body: Buffer;
    }
  /** A prefix of a request this reader would take: more bytes could still make one. */
  | { kind: 'incomplete' }
  | { kind: 'declined'; reason: AuthPostDecline };

/**
 * Why a request is left to the HTTP server:
 * - `other-request`: not `POST /… HTTP/1.1` (GET, CONNECT, HTTP/1.0, …);
 * - `malformed`: a target or header line outside the strict grammar, a Content-Length that is not
 *   digits, or a header Node keeps once sent twice (two Content-Lengths are llhttp's 400);
 * - `too-large`: no end of head within maxHeadBytes (Node answers 431);
 * - `no-host`: no Host header (Node 20's requireHostHeader answers 400);
 * - `not-plain`: Transfer-Encoding, Expect, Upgrade, or a Connection other than keep-alive (the
 *   HTTP server's chunked reader, 100-continue/417, upgrade and close handling);
 * - `no-length`: no Content-Length (openconnect always sends one; Node reads an empty body);
 * - `body-too-large`: a body over maxBodyBytes (the HTTP server's 413 and ban penalty);
 * - `pipelined`: bytes after the body (a next request is the HTTP server's to order).
 */
export type AuthPostDecline =
  | 'other-request'
  | 'malformed'
  | 'too-large'
  | 'no-host'
  | 'not-plain'
  | 'no-length'
  | 'body-too-large'
  | 'pipelined';

export interface AuthPostLimits {
  /** Head bytes up to and including its empty line (Node's maxHeaderSize; default 16 KiB). */
  maxHeadBytes?: number;
  /** Body bytes (the gateway's maxBodyBytes). */
  maxBodyBytes: number;
}

const method = Buffer.from('POST /', 'latin1');
const version = Buffer.from(' HTTP/1.1\r\n', 'latin1');
const endOfHead = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Path and query bytes of an origin-form target (RFC 3986 pchar, "/" and "?"): no fragment, no
 * quotes or brackets, nothing llhttp might read differently.
 */
const isTargetByte = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%?") {
  isTargetByte[c.charCodeAt(0)] = 1;
}

export function readAuthPost(bytes: Buffer, limits: AuthPostLimits): AuthPostResult {
  const maxHeadBytes = limits.maxHeadBytes ?? defaultMaxHeadBytes;
  const compared = Math.min(bytes.length, method.length);
  if (bytes.compare(method, 0, compared, 0, compared) !== 0) return declined('other-request');
  if (bytes.length === compared) return { kind: 'incomplete' };
  let targetEnd = method.length;
  while (targetEnd < bytes.length && isTargetByte[bytes[targetEnd]!] === 1) targetEnd++;
  if (targetEnd === bytes.length) return partial(bytes, maxHeadBytes);
  if (bytes[targetEnd] !== version[0]) return declined('malformed');
  const versionBytes = Math.min(bytes.length - targetEnd, version.length);
  if (bytes.compare(version, 0, versionBytes, targetEnd, targetEnd + versionBytes) !== 0) {
    return declined('other-request');
  }
  const lineEnd = targetEnd + version.length;
  // The request line's CRLF can be the first half of the empty line's CRLF CRLF (no headers).
  const end = lineEnd > bytes.length ? -1 : bytes.indexOf(endOfHead, lineEnd - 2);
  if (end < 0) return partial(bytes, maxHeadBytes);
  const headLength = end + 4;
  if (headLength > maxHeadBytes) return declined('too-large');
  const block = readHeaderLines(bytes, lineEnd, end);
  if (!block || block.repeatedSingle) return declined('malformed');
  const { headers } = block;
  if (headers.host === undefined) return declined('no-host');
  if (!isPlain(headers)) return declined('not-plain');
  const length = headers['content-length'];
  if (length === undefined) return declined('no-length');
  if (typeof length !== 'string' || !/^[0-9]+$/.test(length)) return declined('malformed');
  const bodyLength = Number(length);
  if (bodyLength > limits.maxBodyBytes) return declined('body-too-large');
  if (bytes.length < headLength + bodyLength) return { kind: 'incomplete' };
  if (bytes.length > headLength + bodyLength) return declined('pipelined');
  return {
    kind: 'post',
    target: bytes.toString('latin1', method.length - 1, targetEnd),
    headers,
    body: bytes.subarray(headLength),
  };
}

/** No framing or connection handling of the HTTP server's own is asked for. */
function isPlain(headers: HeaderMap): boolean {
  const connection = headers.connection;
  return (
    headers['transfer-encoding'] === undefined &&
    headers.expect === undefined &&
    headers.upgrade === undefined &&
    (connection === undefined ||
      (typeof connection === 'string' && connection.toLowerCase() === 'keep-alive'))
  );
}

function partial(bytes: Buffer, maxHeadBytes: number): AuthPostResult {
  return bytes.length >= maxHeadBytes ? declined('too-large') : { kind: 'incomplete' };
}

function declined(reason: AuthPostDecline): AuthPostResult {
  return { kind: 'declined', reason };
}
