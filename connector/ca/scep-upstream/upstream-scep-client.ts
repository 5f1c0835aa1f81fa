import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { type BackendHttpResponse, backendHttp } from '../backend-http.js';
import { MAX_CA_CERT_RESPONSE_BYTES, readCaCertResponse } from './upstream-ca-certs.js';

const WHAT = 'the upstream SCEP CA';
const MAX_CAPS_BYTES = 4096;
const MAX_CERT_REP_BYTES = 1024 * 1024;
const MAX_ERROR_TEXT = 200;

/**
 * The RA's HTTP side towards an upstream SCEP CA (RFC 8894 §4): GetCACaps, GetCACert and
 * PKIOperation, each bounded in time and size. Knows nothing of CMS beyond reading GetCACert.
 */
export class UpstreamScepClient {
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** RFC 8894 §3.5.2: keywords, one per line; compared case-insensitively. */
  async capabilities(): Promise<Set<string>> {
    const res = await this.get('GetCACaps', MAX_CAPS_BYTES);
    const words = res.body.toString('latin1').split(/\s+/).filter(Boolean);
    return new Set(words.map((w) => w.toUpperCase()));
  }

  async caCertificates(): Promise<Buffer[]> {
    const res = await this.get('GetCACert', MAX_CA_CERT_RESPONSE_BYTES);
    try {
      return readCaCertResponse(res.body);
    } catch (cause) {
      throw new OutpostError(ErrorCodes.unavailable, `${WHAT} answered GetCACert with something unreadable`, {
        cause,
      });
    }
  }

  /**
   * POST when the CA advertises it (RFC 8894 §4.1), otherwise GET with the message in standard
   * base64, percent-encoded (micromdm's server rejects the URL-safe alphabet).
   */
  async pkiOperation(message: Buffer, post: boolean): Promise<Buffer> {
    const url = this.operationUrl('PKIOperation');
    if (!post) url.searchParams.set('message', message.toString('base64'));
    const res = await backendHttp(WHAT, {
      url,
      method: post ? 'POST' : 'GET',
      ...(post ? { body: message, headers: { 'content-type': 'application/x-pki-message' } } : {}),
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_CERT_REP_BYTES,
    });
    return checkStatus(res, 'PKIOperation').body;
  }

  private async get(operation: string, maxResponseBytes: number): Promise<BackendHttpResponse> {
    const res = await backendHttp(WHAT, {
      url: this.operationUrl(operation),
      method: 'GET',
      timeoutMs: this.timeoutMs,
      maxResponseBytes,
    });
    return checkStatus(res, operation);
  }

  private operationUrl(operation: string): URL {
    const url = new URL(this.url);
    url.searchParams.set('operation', operation);
    return url;
  }
}

/**
 * 5xx is the CA's trouble (retryable); any other non-200 is a refusal of what we sent. micromdm
 * answers an unparsable or unsupported message (CertPoll, GetCert) with HTTP 500.
 */
function checkStatus(res: BackendHttpResponse, operation: string): BackendHttpResponse {
  if (res.status === 200) return res;
  const text = res.body.toString('utf8', 0, Math.min(res.body.length, MAX_ERROR_TEXT)).trim();
  const detail = `${operation}: HTTP ${res.status}${text ? ` ${JSON.stringify(text)}` : ''}`;
  if (res.status >= 500) {
    throw new OutpostError(ErrorCodes.unavailable, `${WHAT} failed, try again later`, { detail });
  }
  throw new OutpostError(ErrorCodes.badRequest, `${WHAT} refused the request`, { detail });
}
