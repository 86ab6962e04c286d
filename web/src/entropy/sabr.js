// Spatially adaptive (SABR, format version 3) files (rnncomp/entropy/sabr.py, docs/bitstream.md "Version 3"):
// the iteration map m (one value 1..k per tile of `tile` x `tile` code blocks) says that a tile's blocks are sent in
// iterations 1..m and read as zero codes after; chunk t holds only the bits of the blocks active at t (m >= t).
//
// The map is the values m - 1 as a (ty, tx, 1) compact image of L levels (the smallest power of two >= max(k, 2)),
// coded by one of entropy/compact.js's coders. Chunks: raw, the active blocks' code vectors in raster order packed
// as one (n_t, bits) array; huffman, that packing Huffman-coded; context / prior, the context coder with the
// inactive blocks skipped (entropy/context.js's run(..., active)).

import { BitstreamError } from '../errors.js';
import { unpackRaw } from './raw.js';
import { HuffmanCoder } from './huffman.js';
import { ContextCoder, countActive, missingPriorError } from './context.js';
import { COMPACT_CODERS, decodeValues } from './compact.js';

/** The chunk coders a SABR file may name (coder ids 0-3). */
export const SABR_CODERS = ['raw', 'huffman', 'context', 'prior'];
/** The map's coders, by the id stored in the header. */
export const MAP_CODERS = COMPACT_CODERS;

/** [tiles_y, tiles_x]: the map's shape for [h, w] code blocks and tiles of `tile` blocks. */
export const tileGrid = ([h, w], tile) => [Math.ceil(h / tile), Math.ceil(w / tile)];

/** The levels of the map's values: the smallest power of two >= max(iterations, 2). */
export const mapLevels = (iterations) => 2 ** Math.max(1, 32 - Math.clz32(iterations - 1));

/** The map (Int32Array of ty * tx values 1..iterations, raster order) of a header's map payload. */
export function decodeMap(coderId, payload, [ty, tx], iterations) {
  if (!(coderId < MAP_CODERS.length)) {
    throw new BitstreamError(`corrupt header: unknown iteration-map coder id ${coderId}`);
  }
  let values;
  try {
    values = decodeValues(payload, [ty, tx, 1], mapLevels(iterations), MAP_CODERS[coderId]);
  } catch (e) {
    if (e instanceof BitstreamError) throw new BitstreamError(`corrupt iteration map: ${e.message}`);
    throw e;
  }
  const m = Int32Array.from(values, (v) => v + 1);
  const max = m.reduce((a, b) => Math.max(a, b), 0);
  if (max > iterations) {
    throw new BitstreamError(`corrupt iteration map: a tile asks for ${max} iterations, the file holds ${iterations}`);
  }
  if (max !== iterations) {
    throw new BitstreamError('corrupt iteration map: no tile is sent in the file\'s last iteration '
      + `(${max} of ${iterations})`);
  }
  return m;
}

/** Uint8Array(h * w): the code blocks sent in iteration t (1-based), i.e. whose tile's map is >= t. */
export function activeBlocks(map, tile, [h, w], t) {
  const tx = Math.ceil(w / tile);
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[y * w + x] = map[Math.floor(y / tile) * tx + Math.floor(x / tile)] >= t ? 1 : 0;
  }
  return out;
}

/** Decodes the iterations of one SABR file, in order: only the blocks active at each (rnncomp's MaskedCoder). */
export class MaskedCoder {
  constructor(name, h, w, bits, prior = null) {
    if (!SABR_CODERS.includes(name)) {
      throw new BitstreamError(`the '${name}' coder is not available for adaptive (SABR) files`);
    }
    this.name = name;
    this.n = h * w * bits;
    this.bits = bits;
    this.context = null;
    if (name === 'prior' && !prior) throw missingPriorError();
    if (name === 'context' || name === 'prior') {
      this.context = new ContextCoder(h, w, bits, name === 'prior' ? prior : null);
    }
  }

  /** Bytes of the raw packing of the active blocks' bits. */
  rawSize(active) {
    return Math.floor((countActive(active) * this.bits + 7) / 8);
  }

  /** The bits (Uint8Array, C order of [h, w, bits]; 0 outside `active`) of the next iteration from its payload. */
  decode(payload, active) {
    const n = countActive(active);
    let sent;
    if (payload.length === this.rawSize(active)) {
      try {
        sent = unpackRaw(payload, n * this.bits);
      } catch (e) {
        throw new BitstreamError(`corrupt file: ${e.message}`);
      }
      const out = this.scatter(sent, active);
      if (this.context) this.context.observe(out, active);
      return out;
    }
    if (this.context) return this.context.decode(payload, active);
    if (this.name === 'huffman') return this.scatter(new HuffmanCoder(1, n, this.bits).decode(payload), active);
    throw new BitstreamError('corrupt file: a raw chunk of the wrong size');
  }

  /** The active blocks' bits (raster order) in place in an iteration of zeros. */
  scatter(sent, active) {
    const out = new Uint8Array(this.n);
    const B = this.bits;
    for (let i = 0, j = 0; i < active.length; i++) {
      if (active[i]) {
        out.set(sent.subarray(j, j + B), i * B);
        j += B;
      }
    }
    return out;
  }
}
