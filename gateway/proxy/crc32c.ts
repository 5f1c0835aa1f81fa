/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of the PROXY v2 PP2_TYPE_CRC32C
 * TLV (HAProxy proxy-protocol.txt §2.2.3). node:zlib's crc32 is the IEEE polynomial, so it cannot
 * be used here.
 */
const TABLE = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
