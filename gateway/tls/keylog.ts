/**
 * One line of the NSS key log format that Node's `keylog` event emits
 * (https://udn.realityripple.com/docs/Mozilla/Projects/NSS/Key_Log_Format):
 * `<label> <client_random hex> <secret hex>`. TLS 1.2 gives `CLIENT_RANDOM` (the master secret);
 * TLS 1.3 gives the handshake and `CLIENT_TRAFFIC_SECRET_0` / `SERVER_TRAFFIC_SECRET_0` secrets.
 */
export interface KeylogEntry {
  readonly label: string;
  readonly clientRandom: Buffer;
  readonly secret: Buffer;
}

/** Longest line accepted: a label, 32-byte random and 48-byte secret take under 200 characters. */
const maxLineLength = 512;

export function parseKeylogLine(line: Buffer | string): KeylogEntry | undefined {
  const text = (typeof line === 'string' ? line : line.toString('latin1')).trim();
  if (text.length > maxLineLength) return undefined;
  const match = /^([A-Z0-9_]{1,64}) ([0-9a-fA-F]{64}) ((?:[0-9a-fA-F]{2}){16,64})$/.exec(text);
  if (!match) return undefined;
  return {
    label: match[1]!,
    clientRandom: Buffer.from(match[2]!, 'hex'),
    secret: Buffer.from(match[3]!, 'hex'),
  };
}
