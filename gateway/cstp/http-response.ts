import { STATUS_CODES } from 'node:http';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export interface HttpAnswer {
  status: number;
  /** Names as they go on the wire, in order; a list is one line per value (Set-Cookie). */
  headers: Record<string, string | string[]>;
  body: string;
}

/**
 * The bytes of a keep-alive HTTP/1.1 answer to a request read without Node's HTTP server
 * (auth-post.ts), header for header what `res.writeHead(status, headers).end(body)` wrote on that
 * server (captured in http-response.test.ts), with one difference in framing:
 * - the status line with Node's reason phrase, then the caller's headers in their order and case
 *   (Set-Cookie, Content-Type, X-Transcend-Version: what openconnect reads);
 * - `Date`: kept. RFC 9110 6.6.1 asks an origin server with a clock to send it, and a client may
 *   use it (cookie expiry against the server's clock); it costs one cached string a second;
 * - `Connection: keep-alive` and `Keep-Alive: timeout=N`: kept, as Node sends them for an
 *   HTTP/1.1 request that did not ask to close (the only kind auth-post.ts takes), so a client
 *   that looks at them sees that the CONNECT may follow on this connection, and for how long;
 * - `Content-Length` instead of `Transfer-Encoding: chunked` (Node chunks because writeHead sends
 *   the head before end() knows the body). Both frame the same body for any HTTP/1.1 client
 *   (openconnect's process_http_response reads either); Content-Length is what ocserv sends, and
 *   lets the answer go as one write, one TLS record.
 * Throws an internal OutpostError when a name or value could break the head (Node throws
 * ERR_INVALID_CHAR there).
 */
export function buildHttpResponse(answer: HttpAnswer, date: string, keepAliveSeconds: number): Buffer {
  const reason = STATUS_CODES[answer.status];
  if (!reason) throw internal(`no HTTP status ${answer.status}`);
  let head = `HTTP/1.1 ${answer.status} ${reason}\r\n`;
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const one of Array.isArray(value) ? value : [value]) head += headerLine(name, one);
  }
  const body = Buffer.from(answer.body, 'utf8');
  head +=
    `Date: ${date}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  const headBytes = Buffer.byteLength(head, 'latin1');
  const bytes = Buffer.allocUnsafe(headBytes + body.length);
  bytes.write(head, 0, 'latin1');
  body.copy(bytes, headBytes);
  return bytes;
}

/** Token names; values of visible ASCII, SP and HTAB only. */
function headerLine(name: string, value: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[^\t\x20-\x7e]/.test(value)) {
    throw internal(`HTTP header ${JSON.stringify(name)} cannot be written`);
  }
  return `${name}: ${value}\r\n`;
}

function internal(detail: string): OutpostError {
  return new OutpostError(ErrorCodes.internal, 'internal error', { detail });
}
