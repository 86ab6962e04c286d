// CRC-32 (zlib's: polynomial 0xEDB88320, initial and final xor 0xFFFFFFFF), incremental like zlib.crc32(data, crc).

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** zlib.crc32(bytes[start:end], crc) as an unsigned 32-bit number. */
export function crc32(bytes, crc = 0, start = 0, end = bytes.length) {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
