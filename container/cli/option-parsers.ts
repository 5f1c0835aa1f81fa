import { InvalidArgumentError } from 'commander';

/** A commander argument parser for an integer in [min, max]. */
export function intInRange(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/** Serials are shown in many spellings (`0A:1B`, `0a1b`, `0x0a1b`); the inventory keys on lower-case hex. */
export function serialHex(text: string): string {
  const normalized = text.trim().replace(/^0x/i, '').replaceAll(':', '').toLowerCase();
  if (!/^[0-9a-f]{1,64}$/.test(normalized))
    throw new InvalidArgumentError('expected a hexadecimal serial number');
  return normalized;
}
