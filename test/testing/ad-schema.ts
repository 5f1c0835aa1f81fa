/**
 * Active Directory account attributes the connector's enrichment reads, for slapd fixtures that
 * already load ad-lite.schema (objectSid, sAMAccountName, userPrincipalName; test/testing/slapd.ts).
 * userAccountControl keeps AD's OID and INTEGER syntax (MS-ADA3: 1.2.840.113556.1.4.8, bit 0x2 =
 * ACCOUNTDISABLE) but, unlike Debian's msuser.schema, has a matching rule so it can be filtered.
 */
export const AD_ACCOUNT_SCHEMA = `# ad-account.schema - AD account flags for connector enrichment tests.
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
	DESC 'AD account flags (MS-ADTS 2.2.16): 0x2 ACCOUNTDISABLE, 0x200 NORMAL_ACCOUNT'
	EQUALITY integerMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )

objectclass ( 1.3.6.1.4.1.99999.1.2.2 NAME 'adLiteAccount'
	DESC 'fixture-only auxiliary class for AD account flags'
	SUP top AUXILIARY
	MAY ( userAccountControl ) )
`;

/** AD's userAccountControl values the fixtures use. */
export const UAC = { normal: 0x200, disabled: 0x200 | 0x2 } as const;
