import type { ProfilePolicy } from '../../connector/issuance/profile-policy.js';
import type { OutpostConfig } from '../config/schema.js';

/** Turns the validated config profiles into the policies the authority applies. */
export function profilePolicies(config: OutpostConfig): Map<string, ProfilePolicy> {
  return new Map(
    Object.entries(config.connector.profiles).map(([name, p]) => [
      name,
      {
        name,
        validityDays: p.validityDays,
        ...(p.keyUsage ? { keyUsage: [...p.keyUsage] } : {}),
        eku: [...p.eku],
        keyTypes: [...p.keyTypes],
        minRsaBits: p.minRsaBits,
        approval: p.approval,
        allowedSanTypes: [...p.allowedSanTypes],
        ...(p.subjectPattern ? { subjectPattern: new RegExp(p.subjectPattern) } : {}),
      },
    ]),
  );
}
