import { createHmac } from 'node:crypto';
import { ErrorCodes, OutpostError } from '../../../core/errors.js';
import { backendHttp } from '../backend-http.js';

const WHAT = 'the cfssl CA';
/** A certificate or a CA certificate in JSON: a few KiB; an answer larger than this is not cfssl's. */
export const MAX_CFSSL_RESPONSE_BYTES = 256 * 1024;
const MAX_ERROR_TEXT = 300;

export type CfsslEndpoint = 'sign' | 'authsign' | 'revoke' | 'info';

/**
 * cfssl error codes (errors/error.go): category × 1000 + reason. 11200 is CertStoreError +
 * RecordNotFound, what /revoke answers for an unknown serial.
 */
const RECORD_NOT_FOUND = 11200;

interface CfsslMessage {
  code: number;
  message: string;
}

/**
 * The authsign envelope (cfssl auth/auth.go, "standard" provider): token = HMAC-SHA-256 over the
 * exact request bytes with the hex-decoded key; both travel base64-encoded (Go []byte in JSON).
 */
export function authenticatedBody(request: Buffer, key: Buffer): Buffer {
  const token = createHmac('sha256', key).update(request).digest();
  return Buffer.from(
    JSON.stringify({ token: token.toString('base64'), request: request.toString('base64') }),
  );
}

/** The key file holds the hex key as cfssl's config has it (`auth_keys.<name>.key`). */
export function parseAuthKey(text: string): Buffer {
  const hex = text.trim();
  if (!/^(?:[0-9a-fA-F]{2}){16,128}$/.test(hex)) {
    throw new OutpostError(ErrorCodes.config, 'the cfssl auth key file must hold 32 to 256 hex digits');
  }
  return Buffer.from(hex, 'hex');
}

/**
 * Reads cfssl's response envelope (api/api.go: {success, result, errors, messages}); a failure
 * becomes an OutpostError by cfssl's code. The message is cfssl's own text, kept for logs only.
 */
export function readCfsslResponse(status: number, body: Buffer): unknown {
  let parsed: { success?: unknown; result?: unknown; errors?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch (cause) {
    const code = status >= 500 ? ErrorCodes.unavailable : ErrorCodes.badRequest;
    throw new OutpostError(code, `${WHAT} answered with something that is not JSON`, {
      cause,
      detail: `HTTP ${status}`,
    });
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new OutpostError(ErrorCodes.unavailable, `${WHAT} answered with something unexpected`);
  }
  if (parsed.success === true && status === 200) return parsed.result;
  const first = Array.isArray(parsed.errors)
    ? (parsed.errors[0] as Partial<CfsslMessage> | undefined)
    : undefined;
  const code = typeof first?.code === 'number' ? first.code : status;
  const message = typeof first?.message === 'string' ? first.message.slice(0, MAX_ERROR_TEXT) : '';
  throw cfsslError(status, code, message);
}

function cfsslError(status: number, code: number, message: string): OutpostError {
  const detail = `HTTP ${status}, cfssl code ${code}${message ? `: ${message}` : ''}`;
  if (code === RECORD_NOT_FOUND)
    return new OutpostError(ErrorCodes.notFound, 'unknown certificate serial at the CA', { detail });
  if (/invalid token|authentication required|no authentication provider/.test(message)) {
    return new OutpostError(ErrorCodes.unauthorized, `${WHAT} refused our authentication`, { detail });
  }
  if (status >= 500 && code >= 500 && code < 1000) {
    return new OutpostError(ErrorCodes.unavailable, `${WHAT} failed, try again later`, { detail });
  }
  return new OutpostError(ErrorCodes.badRequest, `${WHAT} refused the request`, { detail });
}

/** cfssl's REST API (`cfssl serve`), each call bounded in time and size. */
export class CfsslClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async call(endpoint: CfsslEndpoint, body: Buffer): Promise<unknown> {
    const url = new URL(
      `api/v1/cfssl/${endpoint}`,
      this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`,
    );
    const res = await backendHttp(WHAT, {
      url,
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
      timeoutMs: this.timeoutMs,
      maxResponseBytes: MAX_CFSSL_RESPONSE_BYTES,
    });
    return readCfsslResponse(res.status, res.body);
  }
}
