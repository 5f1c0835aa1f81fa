/** Who a tunnel belongs to, as an authenticator established it. */
export interface Identity {
  username: string;
  groups: string[];
  method: 'certificate' | 'password' | 'token';
  /** Device id the client reported (X-CSTP-Hostname / device-id), when any. */
  device?: string;
  /** The group the user chose in the login form (AnyConnect group-select / openconnect --authgroup). */
  selectedGroup?: string;
}
