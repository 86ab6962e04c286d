// The raw packing of one iteration's code bits (rnncomp/entropy/raw.py): C order of (h, w, bits), 8 per byte,
// most significant bit first, the last byte padded with zero bits (checked).

/** Bits (Uint8Array of 0/1, length n) of a raw payload; throws Error with rnncomp's message on bad padding. */
export function unpackRaw(payload, n) {
  const want = Math.floor((n + 7) / 8);
  if (payload.length !== want) throw new Error(`raw payload of ${payload.length} bytes, expected ${want}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (payload[i >> 3] >> (7 - (i & 7))) & 1;
  const rest = want * 8 - n;
  if (rest && payload[want - 1] & ((1 << rest) - 1)) throw new Error('nonzero padding bits in a raw payload');
  return out;
}

/** The raw packing (Uint8Array) of 0/1 bits. */
export function packRaw(bits) {
  const out = new Uint8Array(Math.floor((bits.length + 7) / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return out;
}
