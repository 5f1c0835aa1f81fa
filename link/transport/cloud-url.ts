import { ErrorCodes, OutpostError } from '../../core/errors.js';

/**
 * The cloud is configured by its base URL (`https://cloud.example:7443`); the link and enrollment
 * endpoints hang off it. A base that already ends in one of them is accepted too.
 */
function withPath(base: string, protocol: 'https:' | 'wss:', path: string): URL {
  let url: URL;
  try {
    url = new URL(base);
  } catch (cause) {
    throw new OutpostError(ErrorCodes.config, `invalid cloud URL ${base}`, { cause });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'wss:') {
    throw new OutpostError(
      ErrorCodes.config,
      `the cloud URL must be https:// (or wss://), got ${url.protocol}`,
    );
  }
  url.protocol = protocol;
  const trimmed = url.pathname.replace(/\/+$/, '').replace(/\/v1\/(link|enroll)$/, '');
  url.pathname = `${trimmed}${path}`;
  url.search = '';
  url.hash = '';
  return url;
}

export function linkUrl(base: string): URL {
  return withPath(base, 'wss:', '/v1/link');
}

export function enrollUrl(base: string): URL {
  return withPath(base, 'https:', '/v1/enroll');
}

/** Host and port to CONNECT to through a proxy. */
export function hostPort(url: URL): { host: string; port: number } {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || 443 };
}
