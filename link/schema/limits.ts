/**
 * Size limits of the link protocol (DESIGN rule 4: every input has a size limit). Both ends use the
 * same numbers: the cloud sets them as the WebSocket `maxPayload`, the appliance refuses to send more.
 */
export const LinkLimits = {
  /** One message, as UTF-8 JSON text. A frame beyond this closes the socket (ws maxPayload, code 1009). */
  maxMessageBytes: 1024 * 1024,
  /** Message ids, job ids, appliance ids. */
  maxIdLength: 128,
  /** Free text: error messages, reasons, versions. */
  maxTextLength: 4096,
  /** PEM text: a CSR, a certificate. */
  maxPemLength: 64 * 1024,
  /** Certificates in a chain. */
  maxChainLength: 8,
  /** Job ids listed in `hello.pendingResults`. */
  maxPendingResults: 10_000,
  /** Keys in a JWKS. */
  maxJwks: 16,
} as const;

/** The protocol version every message carries in `v`. */
export const LINK_PROTOCOL_VERSION = 1;
