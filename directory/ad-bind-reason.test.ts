import { describe, expect, it } from 'vitest';
import { adBindFailureReason } from './ad-bind-reason.js';

describe('adBindFailureReason', () => {
  it('reads the Win32 code from an AD diagnosticMessage', () => {
    const msg = '80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563';
    expect(adBindFailureReason(msg)).toBe('account locked out');
    expect(adBindFailureReason(msg.replace('775', '52e'))).toBe('invalid credentials');
    expect(adBindFailureReason(msg.replace('775', '9999'))).toBe('AD data 9999');
  });

  it('returns undefined for other servers', () => {
    expect(adBindFailureReason('Invalid credentials')).toBeUndefined();
  });
});
