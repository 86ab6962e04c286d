// The huffman coder's decoder (rnncomp/entropy/huffman.py): one canonical Huffman code per chunk over the raw
// packing's bytes, code lengths <= 15, the table in the chunk. Same checks, same messages.

import { BitstreamError } from '../errors.js';
import { unpackRaw } from './raw.js';

export const MAX_LENGTH = 15;

const error = (message) => new BitstreamError(`corrupt huffman chunk: ${message}`);

/** [lengths (Int32Array(256)), offset of the codes] of a chunk's table. */
function readTable(payload) {
  if (payload.length < 1) throw error('empty payload');
  const nUsed = payload[0] + 1;
  let pos = 1;
  let used;
  if (nUsed <= 32) {
    if (payload.length < pos + nUsed) throw error('table cut short');
    used = Array.from(payload.subarray(pos, pos + nUsed));
    for (let i = 1; i < nUsed; i++) if (used[i] <= used[i - 1]) throw error('table symbols out of order');
    pos += nUsed;
  } else {
    if (payload.length < pos + 32) throw error('table cut short');
    used = [];
    for (let s = 0; s < 256; s++) if ((payload[pos + (s >> 3)] >> (7 - (s & 7))) & 1) used.push(s);
    if (used.length !== nUsed) throw error('table bitmap does not match its symbol count');
    pos += 32;
  }
  const nBytes = (nUsed + 1) >> 1;
  if (payload.length < pos + nBytes) throw error('table cut short');
  const nib = [];
  for (let i = 0; i < nBytes; i++) nib.push(payload[pos + i] >> 4, payload[pos + i] & 15);
  if (nUsed % 2 && nib[nib.length - 1] !== 0) throw error('nonzero table padding');
  nib.length = nUsed;
  if (Math.min(...nib) < 1) throw error('code length 0 in the table');
  let kraft = 0;
  for (const n of nib) kraft += 1 << (MAX_LENGTH - n);
  if (kraft > 1 << MAX_LENGTH) throw error('code lengths violate the Kraft inequality');
  const lengths = new Int32Array(256);
  used.forEach((s, i) => { lengths[s] = nib[i]; });
  return [lengths, pos + nBytes];
}

/** Canonical code values for code lengths (shorter first, then by symbol). */
export function canonicalCodes(lengths) {
  const order = [];
  for (let s = 0; s < lengths.length; s++) if (lengths[s]) order.push(s);
  order.sort((a, b) => lengths[a] - lengths[b] || a - b);
  const codes = new Int32Array(lengths.length);
  let code = 0;
  let prev = 0;
  for (const s of order) {
    code <<= lengths[s] - prev;
    prev = lengths[s];
    codes[s] = code;
    code += 1;
  }
  return codes;
}

/** `count` bytes (Uint8Array) of a huffman payload (rnncomp's decode_bytes). */
export function decodeBytes(payload, count) {
  const [lengths, pos] = readTable(payload);
  const data = payload.subarray(pos);
  const nbits = data.length * 8;
  if (count > nbits) throw error(`${data.length} bytes cannot hold ${count} codes`);
  const codes = canonicalCodes(lengths);
  const lutSym = new Uint8Array(1 << MAX_LENGTH);
  const lutLen = new Uint8Array(1 << MAX_LENGTH);
  for (let s = 0; s < 256; s++) {
    if (!lengths[s]) continue;
    const shift = MAX_LENGTH - lengths[s];
    const lo = codes[s] << shift;
    lutSym.fill(s, lo, lo + (1 << shift));
    lutLen.fill(lengths[s], lo, lo + (1 << shift));
  }
  const buf = new Uint8Array(data.length + 3);
  buf.set(data);
  const out = new Uint8Array(count);
  const mask = (1 << MAX_LENGTH) - 1;
  let p = 0;
  for (let i = 0; i < count; i++) {
    const q = p >> 3;
    const v = (((buf[q] << 16) | (buf[q + 1] << 8) | buf[q + 2]) >> (9 - (p & 7))) & mask;
    const n = lutLen[v];
    if (n === 0) throw error('invalid code');
    out[i] = lutSym[v];
    p += n;
    if (p > nbits) throw error('codes run past the end of the chunk');
  }
  const rest = nbits - p;
  if (rest >= 8 || (rest && data[data.length - 1] & ((1 << rest) - 1))) throw error('trailing data after the codes');
  return out;
}

/** Per-chunk canonical Huffman decoding of one file's iterations (stateless). */
export class HuffmanCoder {
  constructor(h, w, bits) {
    this.n = h * w * bits;
    this.rawSize = Math.floor((this.n + 7) / 8);
    this.iteration = 0;
  }

  decode(payload) {
    const symbols = decodeBytes(payload, this.rawSize);
    let bits;
    try {
      bits = unpackRaw(symbols, this.n);
    } catch {
      throw error('nonzero padding bits');
    }
    this.iteration += 1;
    return bits;
  }

  observe() {
    this.iteration += 1;
  }
}
