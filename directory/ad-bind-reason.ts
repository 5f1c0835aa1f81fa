/**
 * Active Directory explains a failed simple bind (resultCode 49, invalidCredentials) in the
 * diagnosticMessage: "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error,
 * data 52e, v4563". The `data` word is a Win32 error code. We log the reason (never show it to the
 * client: telling "locked" from "wrong password" would let anyone probe accounts).
 */
const AD_BIND_REASONS: Readonly<Record<string, string>> = {
  '525': 'user not found',
  '52e': 'invalid credentials',
  '530': 'logon not permitted at this time',
  '531': 'logon not permitted from this workstation',
  '532': 'password expired',
  '533': 'account disabled',
  '568': 'too many security identifiers',
  '701': 'account expired',
  '773': 'user must reset password',
  '775': 'account locked out',
};

export function adBindFailureReason(diagnosticMessage: string): string | undefined {
  const m = /\bdata ([0-9a-f]{3,8})\b/i.exec(diagnosticMessage);
  if (!m) return undefined;
  const code = m[1]!.toLowerCase();
  return AD_BIND_REASONS[code] ?? `AD data ${code}`;
}
