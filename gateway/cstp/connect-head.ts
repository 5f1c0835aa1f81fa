import type { HeaderMap } from './connect-request.js';

/**
 * The head of a connection's first request when it is `CONNECT /CSCOSSLC/tunnel HTTP/1.1`, read
 * from the first cleartext bytes without Node's HTTP server (its parser, IncomingMessage and
 * 'connect' event cost each resumed session of a failover storm more than this whole read).
 *
 * Pure and deliberately narrow: only a head that Node's strict parser (llhttp) also accepts, and
 * reads to the same headers, is taken. Anything else is declined with a stable reason and goes to
 * the HTTP server as before, which then answers it exactly as it always has (400, 404, 431, the
 * auth POSTs). openconnect writes its CONNECT in one TLS record (cstp.c start_cstp_connection
 * builds the request in one buffer), so its whole head is in the first cleartext chunk.
 */
export type ConnectHeadResult =
  | {
      kind: 'head';
      /** Lower-cased names, repeats merged as Node's IncomingMessage merges them (req.headers). */
      headers: HeaderMap;
      /** Bytes of the head, up to and including its empty line; anything after is the client's next bytes. */
      headLength: number;
    }
  /** A prefix of a head this reader would take: more bytes could still make one. */
  | { kind: 'incomplete' }
  | { kind: 'declined'; reason: ConnectHeadDecline };

/**
 * Why a head is left to the HTTP server:
 * - `other-request`: not `CONNECT /CSCOSSLC/tunnel HTTP/1.1` (auth POSTs, GETs, other targets);
 * - `malformed`: a header line outside the strict grammar (obs-fold, controls, 8-bit bytes, bare LF);
 * - `too-large`: no end of head within maxHeadBytes (Node answers 431);
 * - `has-body`: Content-Length or Transfer-Encoding on a CONNECT (Node decides what that means).
 */
export type ConnectHeadDecline = 'other-request' | 'malformed' | 'too-large' | 'has-body';

/** Node's default maxHeaderSize, which the gateway's HTTP server also uses (16 KiB). */
export const defaultMaxHeadBytes = 16 * 1024;

const requestLine = Buffer.from('CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n', 'latin1');
const endOfHead = Buffer.from('\r\n\r\n', 'latin1');
const CR = 0x0d;
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;

/** RFC 9110 tchar, as a lookup table over bytes. */
const isTokenByte = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  isTokenByte[c.charCodeAt(0)] = 1;
}

export function readConnectHead(bytes: Buffer, maxHeadBytes = defaultMaxHeadBytes): ConnectHeadResult {
  const compared = Math.min(bytes.length, requestLine.length);
  if (bytes.compare(requestLine, 0, compared, 0, compared) !== 0) return declined('other-request');
  // The request line's CRLF can be the first half of the empty line's CRLF CRLF (no headers).
  const end = bytes.indexOf(endOfHead, requestLine.length - 2);
  if (end < 0) return bytes.length >= maxHeadBytes ? declined('too-large') : { kind: 'incomplete' };
  if (end + 4 > maxHeadBytes) return declined('too-large');
  const block = readHeaderLines(bytes, requestLine.length, end);
  if (!block) return declined('malformed');
  const { headers } = block;
  if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) {
    return declined('has-body');
  }
  return { kind: 'head', headers, headLength: end + 4 };
}

/** A request head's header lines, read as Node's strict parser and IncomingMessage read them. */
export interface HeaderLines {
  /** Lower-cased names, repeats merged as req.headers merges them; no prototype. */
  headers: HeaderMap;
  /**
   * A header whose repeats Node drops (firstValueWins) came more than once: what llhttp makes of
   * that differs by header (two Content-Lengths are an error), so a caller that cares declines.
   */
  repeatedSingle: boolean;
}

/**
 * The header lines from `start` (just after the request line's CRLF) to `end` (where the head's
 * CRLF CRLF starts), or undefined when a line is outside the strict grammar. Shared by every
 * request this gateway reads without Node's HTTP server (this CONNECT, auth-post.ts's POST).
 */
export function readHeaderLines(bytes: Buffer, start: number, end: number): HeaderLines | undefined {
  // No prototype: a header named __proto__ is just a name here.
  const headers: HeaderMap = Object.create(null);
  let repeatedSingle = false;
  let lineStart = start;
  while (lineStart < end + 2) {
    const lineEnd = bytes.indexOf(CR, lineStart);
    const line = headerLine(bytes, lineStart, lineEnd);
    if (!line) return undefined;
    if (headers[line.name] !== undefined && firstValueWins.has(line.name)) repeatedSingle = true;
    addHeader(headers, line.name, line.value);
    lineStart = lineEnd + 2;
  }
  return { headers, repeatedSingle };
}

function declined(reason: ConnectHeadDecline): ConnectHeadResult {
  return { kind: 'declined', reason };
}

/**
 * `name ":" OWS value OWS` between start and the CR at end (which must be followed by LF), or
 * undefined. Values keep only SP, HTAB and visible ASCII: llhttp refuses other controls, and
 * 8-bit bytes are not worth matching Node's decoding of them for any header the gateway reads.
 */
function headerLine(bytes: Buffer, start: number, end: number): { name: string; value: string } | undefined {
  if (bytes[end + 1] !== 0x0a) return undefined;
  let colon = start;
  while (colon < end && isTokenByte[bytes[colon]!] === 1) colon++;
  if (colon === start || colon === end || bytes[colon] !== COLON) return undefined;
  let valueStart = colon + 1;
  while (valueStart < end && isBlank(bytes[valueStart]!)) valueStart++;
  let valueEnd = end;
  while (valueEnd > valueStart && isBlank(bytes[valueEnd - 1]!)) valueEnd--;
  for (let i = valueStart; i < valueEnd; i++) {
    const b = bytes[i]!;
    if ((b < SP && b !== HTAB) || b > 0x7e) return undefined;
  }
  return {
    name: bytes.toString('latin1', start, colon).toLowerCase(),
    value: bytes.toString('latin1', valueStart, valueEnd),
  };
}

function isBlank(b: number): boolean {
  return b === SP || b === HTAB;
}

/**
 * Node's headers that keep their first value and drop repeats (_http_incoming.js
 * matchKnownFields); every other header is joined with ", ", Cookie with "; ", and Set-Cookie
 * kept as a list.
 */
const firstValueWins = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** IncomingMessage._addHeaderLine (Node 20), so that parseConnectRequest sees what req.headers gave it. */
function addHeader(headers: HeaderMap, name: string, value: string): void {
  const previous = headers[name];
  if (name === 'set-cookie') {
    if (Array.isArray(previous)) previous.push(value);
    else headers[name] = [value];
  } else if (previous === undefined) {
    headers[name] = value;
  } else if (!firstValueWins.has(name)) {
    headers[name] = `${previous}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
}
