// The compact-image coders' decoders (rnncomp/entropy/compact.py): level indices 0..L-1 coded channel plane by
// plane in raster order. Here they decode a SABR file's iteration map (entropy/sabr.js). Same checks, same messages.
//
// raw: log2(L) bits per value, MSB first; huffman: one canonical Huffman code (entropy/huffman.js's table);
// arithmetic: constriction's range coder with Categorical(counts, perfect=False), counts per plane starting at 1
// per level, updated after blocks of 4, 8, ... 256 values, then every 256; predictive: one byte naming the predictor
// (0 left, 1 planar), then the adaptive coder over the residuals (v - pred) mod L, counts starting from
// 1 + (top >> (|r| // step)), step = max(1, L // 32), top = 64 L // (16 step).

import { BitstreamError } from '../errors.js';
import { minPayloadBytes } from '../bitstream.js';
import { decodeBytes } from './huffman.js';
import { RangeDecoder, categoricalCdf, wordsForDecoder } from './context.js';

/** The compact-image coders, by the id stored in a file (rnncomp.coder_names.COMPACT_CODERS). */
export const COMPACT_CODERS = ['raw', 'huffman', 'arithmetic', 'predictive'];
export const PREDICTORS = ['left', 'planar'];
const FIRST_BLOCK = 4;
const LAST_BLOCK = 256;
const PRIOR_COUNTS = 64;

const error = (message) => new BitstreamError(`corrupt compact image: ${message}`);

/** Starting counts: 1 per level; residuals: plus a two-sided geometric prior around 0 (integers only). */
function initialCounts(levels, residual) {
  const counts = new Float64Array(levels).fill(1);
  if (!residual) return counts;
  const step = Math.max(1, Math.floor(levels / 32));
  const top = Math.floor((PRIOR_COUNTS * levels) / (16 * step));
  for (let i = 0; i < levels; i++) {
    const d = Math.min(i, levels - i);
    counts[i] += Math.floor(top / 2 ** Math.min(Math.floor(d / step), 62));
  }
  return counts;
}

/** c planes of n values each (Uint8Array, plane after plane) of an adaptive payload. */
function decodeAdaptive(payload, c, n, levels, residual) {
  if (payload.length < minPayloadBytes(c * n)) throw error(`${payload.length} bytes cannot hold ${c * n} values`);
  const decoder = new RangeDecoder(wordsForDecoder(payload));
  const out = new Uint8Array(c * n);
  for (let p = 0; p < c; p++) {
    const counts = initialCounts(levels, residual);
    for (let a = 0, size = FIRST_BLOCK; a < n; a += size, size = Math.min(LAST_BLOCK, 2 * size)) {
      const b = Math.min(n, a + size);
      const cdf = categoricalCdf(counts); // one table per block
      for (let i = a; i < b; i++) {
        let s;
        try {
          s = decoder.decodeSymbol(cdf);
        } catch (e) {
          if (e instanceof BitstreamError) throw error(e.message);
          throw e;
        }
        out[p * n + i] = s;
      }
      for (let i = a; i < b; i++) counts[out[p * n + i]] += 1;
    }
  }
  return out;
}

/** The planes (c, h, w) back from their residuals (rnncomp's undo_residuals: cumulative sums mod L). */
function undoResiduals(r, c, h, w, levels, predictor) {
  const v = new Uint8Array(r.length);
  for (let p = 0; p < c; p++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = (p * h + y) * w + x;
        let value = r[i];
        if (predictor === 'planar') { // r = D_y D_x v inside: v = left + up - up_left + r
          if (x) value += v[i - 1];
          if (y) value += v[i - w];
          if (x && y) value += levels - v[i - w - 1];
        } else if (x) value += v[i - 1]; // left: from the left, the first column from above
        else if (y) value += v[i - w];
        v[i] = value % levels;
      }
    }
  }
  return v;
}

/** The values (Uint8Array in C order of [h, w, c]) of a compact-image payload (rnncomp's decode_values). */
export function decodeValues(payload, [h, w, c], levels, coder) {
  const n = h * w * c;
  let planes;
  if (coder === 'raw') {
    const b = Math.log2(levels);
    const need = Math.floor((n * b + 7) / 8);
    if (payload.length !== need) throw error(`raw payload of ${payload.length} bytes, expected ${need}`);
    const bit = (i) => (payload[i >> 3] >> (7 - (i & 7))) & 1;
    for (let i = n * b; i < need * 8; i++) if (bit(i)) throw error('nonzero padding bits');
    planes = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let value = 0;
      for (let j = 0; j < b; j++) value = 2 * value + bit(i * b + j);
      planes[i] = value;
    }
  } else if (coder === 'huffman') {
    planes = decodeBytes(payload, n);
    for (let i = 0; i < n; i++) if (planes[i] >= levels) throw error('a value outside the levels');
  } else if (coder === 'arithmetic') {
    planes = decodeAdaptive(payload, c, h * w, levels, false);
  } else if (coder === 'predictive') {
    if (!payload.length || payload[0] >= PREDICTORS.length) throw error('unknown predictor');
    const residuals = decodeAdaptive(payload.subarray(1), c, h * w, levels, true);
    planes = undoResiduals(residuals, c, h, w, levels, PREDICTORS[payload[0]]);
  } else throw new Error(`unknown compact-image coder '${coder}'`);
  const out = new Uint8Array(n);
  for (let p = 0; p < c; p++) for (let i = 0; i < h * w; i++) out[i * c + p] = planes[p * h * w + i];
  return out;
}
