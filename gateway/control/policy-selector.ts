import type { Identity } from '../session/identity.js';
import type { GatewayPolicy } from './gateway-policy.js';
import type { AddressAllocator } from './ports.js';

/** A group's policy and the condition that selects it. */
export interface GroupPolicy {
  name: string;
  /** Selected when the identity is in any of these groups (case-insensitive)… */
  groups: readonly string[];
  /** …or is one of these users. */
  users: readonly string[];
  policy: GatewayPolicy;
  addresses: AddressAllocator;
}

/**
 * Per-group policy, as ocserv's config-per-group: the first group (in configuration order) that
 * the identity belongs to decides pool, DNS, routes and timers; no match falls back to the
 * gateway's top-level settings. Groups come from LDAP, the certificate's OU or a token claim.
 */
export function policySelector(
  groups: readonly GroupPolicy[],
  fallback: { policy: GatewayPolicy; addresses: AddressAllocator },
): (identity: Identity) => { policy: GatewayPolicy; addresses: AddressAllocator } {
  const prepared = groups.map((g) => ({
    ...g,
    groupSet: new Set(g.groups.map((name) => name.toLowerCase())),
    userSet: new Set(g.users.map((name) => name.toLowerCase())),
  }));
  return (identity) => {
    const user = identity.username.toLowerCase();
    const memberOf = identity.groups.map((name) => name.toLowerCase());
    const chosen = identity.selectedGroup
      ? prepared.find((g) => g.name === identity.selectedGroup)
      : undefined;
    const match =
      chosen ?? prepared.find((g) => g.userSet.has(user) || memberOf.some((name) => g.groupSet.has(name)));
    return match ? { policy: match.policy, addresses: match.addresses } : fallback;
  };
}

/** Whether an identity meets a group's `match` (what a chosen group must satisfy). */
export function isGroupMember(group: Pick<GroupPolicy, 'groups' | 'users'>, identity: Identity): boolean {
  const user = identity.username.toLowerCase();
  const wanted = new Set(group.groups.map((name) => name.toLowerCase()));
  return (
    group.users.some((name) => name.toLowerCase() === user) ||
    identity.groups.some((name) => wanted.has(name.toLowerCase()))
  );
}
