import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ErrorCodes, OutpostError } from '../../core/errors.js';

export interface BackendHttpRequest {
  url: URL;
  method: 'GET' | 'POST';
  body?: Buffer;
  headers?: Record<string, string>;
  /** One deadline for connect, request, headers and the whole body (DESIGN rule 4). */
  timeoutMs: number;
  /** A longer response is cut off and reported as `unavailable`. */
  maxResponseBytes: number;
}

export interface BackendHttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function unavailable(what: string, detail: string, cause?: unknown): OutpostError {
  return new OutpostError(ErrorCodes.unavailable, `${what} is unavailable, try again later`, {
    detail,
    ...(cause ? { cause } : {}),
  });
}

/**
 * One HTTP exchange with a CA backend (cfssl, an upstream SCEP CA). Never hangs and never buffers
 * without bound: a single timer covers the whole exchange, and the body is counted as it arrives.
 * Network failures, the deadline and oversized answers are `unavailable` (retryable); any HTTP
 * status is returned for the caller to judge. `what` names the backend in client messages.
 */
export function backendHttp(what: string, req: BackendHttpRequest): Promise<BackendHttpResponse> {
  const send = req.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: OutpostError | undefined, response?: BackendHttpResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        outgoing.destroy();
        reject(error);
      } else resolve(response!);
    };
    const headers: Record<string, string> = { ...req.headers, connection: 'close' };
    if (req.body) headers['content-length'] = String(req.body.length);
    const outgoing = send(req.url, { method: req.method, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      let size = 0;
      incoming.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxResponseBytes) {
          incoming.destroy();
          finish(unavailable(what, `answer larger than ${req.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      incoming.on('end', () =>
        finish(undefined, {
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: Buffer.concat(chunks, size),
        }),
      );
      incoming.on('error', (e) => finish(unavailable(what, `answer broken off: ${e.message}`, e)));
    });
    const timer = setTimeout(
      () => finish(unavailable(what, `no complete answer within ${req.timeoutMs} ms`)),
      req.timeoutMs,
    );
    outgoing.on('error', (e) => finish(unavailable(what, e.message, e)));
    outgoing.end(req.body);
  });
}
