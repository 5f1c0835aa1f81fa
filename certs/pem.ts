import { DecodeError } from '../core/errors.js';

/** One PEM block: its label (e.g. "CERTIFICATE") and the decoded DER. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

/** Upper bound on PEM input so a hostile file cannot make the regex scan unbounded text. */
const MAX_PEM_CHARS = 4 * 1024 * 1024;

// RFC 7468 §2: "-----BEGIN label-----", base64 lines, "-----END label-----" with the same label.
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;

/** Encodes DER as PEM with 64-character lines (RFC 7468 §2). */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Every PEM block in `text`, in order. Encapsulated headers (RFC 1421 "Proc-Type") are kept out of the DER. */
export function pemBlocks(text: string): PemBlock[] {
  if (text.length > MAX_PEM_CHARS) throw new DecodeError('PEM input too large');
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, label, body, endLabel] = m;
    if (label !== endLabel) throw new DecodeError(`PEM label mismatch: ${label} / ${endLabel}`);
    blocks.push({ label: label!, der: decodeBody(body!) });
  }
  return blocks;
}

/** DER of the first block with `label`; throws DecodeError when there is none. */
export function firstDer(text: string, label: string): Buffer {
  const block = pemBlocks(text).find((b) => b.label === label);
  if (!block) throw new DecodeError(`no PEM block labelled ${label}`);
  return block.der;
}

function decodeBody(body: string): Buffer {
  // Drop RFC 1421 style headers ("Name: value" lines followed by a blank line) if present.
  const withoutHeaders = body.includes(':') ? body.replace(/^[\s\S]*?\r?\n\r?\n/, '') : body;
  const b64 = withoutHeaders.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) {
    throw new DecodeError('PEM body is not base64');
  }
  return Buffer.from(b64, 'base64');
}
