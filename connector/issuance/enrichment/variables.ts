/**
 * The variables a subject or SAN template may use, named as Intune names them in its SCEP/PKCS
 * profiles so that templates written for Intune work unchanged. Matched case-insensitively
 * (Intune itself mixes `{{onPremisesSamAccountName}}` and `{{OnPremisesSecurityIdentifier}}`).
 */
export const TEMPLATE_VARIABLES = [
  'UserPrincipalName',
  'EmailAddress',
  'OnPrem_Distinguished_Name',
  'onPremisesSamAccountName',
  'OnPremisesSecurityIdentifier',
  'DeviceId',
] as const;

export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/** The values one request provides; a variable without a value cannot be rendered. */
export type TemplateValues = Partial<Record<TemplateVariable, string>>;

const BY_LOWER_NAME: ReadonlyMap<string, TemplateVariable> = new Map(
  TEMPLATE_VARIABLES.map((v) => [v.toLowerCase(), v]),
);

/** The canonical spelling of a variable name, or undefined when there is no such variable. */
export function templateVariable(name: string): TemplateVariable | undefined {
  return BY_LOWER_NAME.get(name.toLowerCase());
}

/** Where each value comes from (for error messages that tell an operator what is missing). */
export const VARIABLE_SOURCES: Readonly<Record<TemplateVariable, string>> = {
  UserPrincipalName: 'the directory attribute mapped to userPrincipalName',
  EmailAddress: 'the directory attribute mapped to mail',
  OnPrem_Distinguished_Name: "the directory entry's DN",
  onPremisesSamAccountName: 'the directory attribute mapped to sAMAccountName',
  OnPremisesSecurityIdentifier: 'the directory attribute mapped to objectSid',
  DeviceId: 'the request (challenge deviceId claim or CSR subject, per deviceIdFrom)',
};
