import type { z } from 'zod';
import { type ApplianceMessage, applianceMessage, applianceMessageTypes } from './appliance-messages.js';
import { type CloudMessage, cloudMessage, cloudMessageTypes } from './cloud-messages.js';
import { linkId } from './common.js';
import { LinkDecodeError } from './decode-error.js';
import { LINK_PROTOCOL_VERSION, LinkLimits } from './limits.js';

export type LinkMessage = ApplianceMessage | CloudMessage;
/** Who sent the message being parsed: each side only accepts the other side's message types. */
export type LinkSender = 'appliance' | 'cloud';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function toText(input: string | Uint8Array): string {
  if (typeof input === 'string') {
    // UTF-16 length bounds the UTF-8 length from below; count exactly only when it could be over.
    if (input.length > LinkLimits.maxMessageBytes || Buffer.byteLength(input) > LinkLimits.maxMessageBytes) {
      throw new LinkDecodeError('oversized', `message exceeds ${LinkLimits.maxMessageBytes} bytes`);
    }
    return input;
  }
  if (input.byteLength > LinkLimits.maxMessageBytes) {
    throw new LinkDecodeError('oversized', `message exceeds ${LinkLimits.maxMessageBytes} bytes`);
  }
  try {
    return utf8.decode(input);
  } catch {
    throw new LinkDecodeError('malformed', 'message is not UTF-8');
  }
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Also catches RangeError from pathological nesting.
    throw new LinkDecodeError('malformed', 'message is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new LinkDecodeError('malformed', 'message is not a JSON object');
  }
  return value as Record<string, unknown>;
}

/** zod's first issue as one safe line, e.g. `job.payload.user: expected user or device`. */
function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid message';
  const path = issue.path.map(String).join('.');
  return (path ? `${path}: ${issue.message}` : issue.message).slice(0, 512);
}

function decode<T>(
  input: string | Uint8Array,
  types: readonly string[],
  schema: z.ZodType<T>,
  sender: LinkSender,
): T {
  const object = parseJsonObject(toText(input));
  const idCheck = linkId.safeParse(object.id);
  const ref = idCheck.success ? idCheck.data : undefined;
  if (object.v !== LINK_PROTOCOL_VERSION) {
    throw new LinkDecodeError('unsupported-version', `expected v: ${LINK_PROTOCOL_VERSION}`, ref);
  }
  if (typeof object.type !== 'string' || !types.includes(object.type)) {
    const shown = typeof object.type === 'string' ? JSON.stringify(object.type.slice(0, 64)) : 'missing';
    throw new LinkDecodeError('unknown-type', `type ${shown} is not a message a ${sender} sends`, ref);
  }
  const parsed = schema.safeParse(object);
  if (!parsed.success) throw new LinkDecodeError('invalid', describeIssue(parsed.error), ref);
  return parsed.data;
}

/** Parses a message received by the cloud. Throws only LinkDecodeError. */
export function parseApplianceMessage(input: string | Uint8Array): ApplianceMessage {
  return decode(input, applianceMessageTypes, applianceMessage, 'appliance');
}

/** Parses a message received by an appliance. Throws only LinkDecodeError. */
export function parseCloudMessage(input: string | Uint8Array): CloudMessage {
  return decode(input, cloudMessageTypes, cloudMessage, 'cloud');
}

/**
 * Parses a message from either side (`from` narrows it; without it any known type is accepted).
 * Throws only LinkDecodeError.
 */
export function parseLinkMessage(input: string | Uint8Array, from?: LinkSender): LinkMessage {
  if (from === 'appliance') return parseApplianceMessage(input);
  if (from === 'cloud') return parseCloudMessage(input);
  const object = parseJsonObject(toText(input));
  const type = typeof object.type === 'string' ? object.type : '';
  const sender = (applianceMessageTypes as readonly string[]).includes(type) ? 'appliance' : 'cloud';
  return sender === 'appliance' ? parseApplianceMessage(input) : parseCloudMessage(input);
}

/** Encodes a message for the wire, checking it against the schema and the size limit first. */
export function encodeLinkMessage(message: LinkMessage, from: LinkSender): string {
  const text = JSON.stringify(message);
  if (from === 'appliance') parseApplianceMessage(text);
  else parseCloudMessage(text);
  return text;
}
