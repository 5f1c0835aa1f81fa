import type { SubjectAltNames } from './csr.js';

export function emptySans(): SubjectAltNames {
  return { dns: [], email: [], uri: [], ip: [], upn: [] };
}

export function hasSans(sans: SubjectAltNames): boolean {
  return sans.dns.length + sans.email.length + sans.uri.length + sans.ip.length + sans.upn.length > 0;
}
