import { DecodeError } from '../../core/errors.js';
import { type AsnNode, explicitItem, oidValue, parseDer, sequenceItems } from './der-reader.js';
import { contextConstructed, objectIdentifier, sequence } from './der-writer.js';

/** ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content } (RFC 5652 §3). */
export function wrapContentInfo(contentType: string, contentDer: Uint8Array): Buffer {
  return sequence(objectIdentifier(contentType), contextConstructed(0, contentDer));
}

/** Parses a ContentInfo of the expected type and returns its content node. */
export function unwrapContentInfo(
  der: Uint8Array,
  expectedType: string,
  what: string,
  maxBytes: number,
): AsnNode {
  const [type, content] = sequenceItems(parseDer(der, what, maxBytes), what, 2);
  const contentType = oidValue(type, `${what} contentType`);
  if (contentType !== expectedType) throw new DecodeError(`${what}: unexpected content type ${contentType}`);
  return explicitItem(content, 0, `${what} content`);
}
