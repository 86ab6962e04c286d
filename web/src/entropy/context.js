// The context and prior coders' decoder (rnncomp/entropy/context.py): rnncomp's integer context model driving
// a port of the decoder side of constriction 0.5.0's range coder (constriction.stream.queue.RangeDecoder, words
// u32, state u64) with its Bernoulli(perfect=False) model at 24-bit precision.
//
// Context model (the module docstring of rnncomp/entropy/context.py): bit b[t, y, x, c] has the context
// nb = up + 2*left + 4*prev (8 + up + 2*left in the first iteration); counts (n1, n) per coarse context nb and
// per fine context (min(t, 3), nb, c); p1 = (n1f*(2ns+2) + 4*(2n1s+1)) / ((nf+4)*(2ns+2)), quantised to
// P = clip(floor(p1 * 2^16), 1, 2^16-1) in integers; blocks by anti-diagonal then row, in batches of at most
// ceil(h*w/256) blocks, counts updated after each batch, a count whose total passes 2^16 halved (rounded up).
//
// constriction's side: Bernoulli(p, perfect=False) is ContiguousCategorical::from_floating_point_probabilities_fast
// over [1-p, p] at PRECISION 24: the cdf is [0, floor((1-p) * (2^24 - 2)) + 1, 2^24] (f64 arithmetic, exact here
// since p = P / 2^16). The range decoder keeps (lower, range, point) in u64; only point - lower (mod 2^64) and
// range matter to decoding, so this port keeps d = point - lower and range (as 32-bit halves):
//   scale = range >> 24; q = d / scale (q >= 2^24: invalid data); symbol = q < cdf1 ? 0 : 1;
//   d -= scale * left; range = scale * probability; while range < 2^32: d = d << 32 | next word, range <<= 32
// (a missing word reads as 0, as constriction's). It starts with range = 2^64 - 1 and d = the first two words.

import { BitstreamError, RnncompError } from '../errors.js';
import { minPayloadBytes } from '../bitstream.js';

export const PRECISION = 16;
export const PRIOR_WEIGHT = 4;
export const COUNT_LIMIT = 2 ** 16;
export const ITERATION_BUCKETS = 4;
export const NB_CONTEXTS = 16;
export const TARGET_BATCHES = 256;
const PAD_WORDS = 2;
const TWO24 = 2 ** 24;
const FREE_WEIGHT = 2 ** 24 - 2; // constriction: 2^PRECISION minus one per symbol

/** Blocks in coding order and the batch boundaries (rnncomp's _schedule). */
export function schedule(h, w) {
  const group = Math.max(1, Math.ceil((h * w) / TARGET_BATCHES));
  const ys = new Int32Array(h * w);
  const xs = new Int32Array(h * w);
  const bounds = [0];
  let pos = 0;
  for (let d = 0; d < h + w - 1; d++) {
    const y0 = Math.max(0, d - w + 1);
    const y1 = Math.min(d, h - 1);
    const len = y1 - y0 + 1;
    for (let y = y0; y <= y1; y++) {
      ys[pos + y - y0] = y;
      xs[pos + y - y0] = d - y;
    }
    for (let b = pos + group; b < pos + len; b += group) bounds.push(b);
    pos += len;
    bounds.push(pos);
  }
  return { ys, xs, bounds };
}

/** The payload as the decoder reads it: FF bytes to a multiple of 4, plus two FFFFFFFF words; big-endian u32. */
export function wordsForDecoder(payload) {
  const padded = payload.length + ((4 - (payload.length % 4)) % 4) + 4 * PAD_WORDS;
  const bytes = new Uint8Array(padded).fill(0xff);
  bytes.set(payload);
  const words = new Float64Array(padded / 4);
  for (let i = 0; i < words.length; i++) {
    words[i] = ((bytes[4 * i] << 24) | (bytes[4 * i + 1] << 16) | (bytes[4 * i + 2] << 8) | bytes[4 * i + 3]) >>> 0;
  }
  return words;
}

/** constriction's message on data no model could have coded. */
export const INVALID_DATA = 'Tried to decode from compressed data that is invalid for the employed entropy model.';

/**
 * The cdf constriction's Categorical(counts, perfect=False) uses at 24-bit precision
 * (ContiguousCategorical::from_floating_point_probabilities_fast): floor(cum * (2^24 - n) / sum) + i, in f64.
 */
export function categoricalCdf(counts) {
  const n = counts.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += counts[i];
  const scale = (TWO24 - n) / sum;
  const cdf = new Float64Array(n + 1);
  let cum = 0;
  for (let i = 0; i < n; i++) {
    cdf[i] = Math.floor(cum * scale) + i;
    cum += counts[i];
  }
  cdf[n] = TWO24;
  return cdf;
}

const TWO8 = 2 ** 8;
const TWO32 = 2 ** 32;

/**
 * The decoder side of constriction's RangeDecoder<u32, u64> with binary models at 24-bit precision, in exact
 * integer arithmetic on doubles: every 64-bit quantity is a pair (high, low) of 32-bit halves, and every product
 * scale * c (scale < 2^40, c <= 2^24) is formed from pieces below 2^53.
 */
export class RangeDecoder {
  constructor(words) {
    this.words = words;
    this.next = 0;
    // point = the first two words (a missing word reads as 0); lower = 0, so d = point - lower = point
    this.dH = this.next < words.length ? words[this.next++] : 0;
    this.dL = this.next < words.length ? words[this.next++] : 0;
    this.rH = TWO32 - 1; // range = 2^64 - 1
    this.rL = TWO32 - 1;
    this.pH = 0;
    this.pL = 0;
  }

  /** scale * c (< 2^64) into this.pH, this.pL. */
  product(scale, c) {
    const sH = Math.floor(scale / TWO24);
    const sL = scale - sH * TWO24;
    const a = c * sL; // < 2^49
    const aH = Math.floor(a / TWO32);
    const b = c * sH; // < 2^41, times 2^24
    const bH = Math.floor(b / TWO8);
    let lo = (a - aH * TWO32) + (b - bH * TWO8) * TWO24;
    let hi = aH + bH;
    if (lo >= TWO32) {
      lo -= TWO32;
      hi += 1;
    }
    this.pH = hi;
    this.pL = lo;
  }

  /** One binary symbol whose probability of a 1 is P / 2^16 (1 <= P < 2^16). */
  decodeBit(P) {
    const cdf1 = Math.floor((1 - P / 65536) * FREE_WEIGHT) + 1;
    const scale = this.rH * TWO8 + Math.floor(this.rL / TWO24); // range >> 24
    const { dH, dL } = this;
    // scale * 2^24 is range with its low 24 bits cleared; quantile = d / scale >= 2^24 means invalid data
    const tH = this.rH;
    const tL = this.rL - (this.rL % TWO24);
    if (dH > tH || (dH === tH && dL >= tL)) {
      throw new BitstreamError(`corrupt context chunk: ${INVALID_DATA}`);
    }
    this.product(scale, cdf1);
    let bit;
    if (dH < this.pH || (dH === this.pH && dL < this.pL)) { // quantile < cdf1: symbol 0, left 0, probability cdf1
      this.rH = this.pH;
      this.rL = this.pL;
      bit = 0;
    } else { // symbol 1: d -= scale * cdf1; range = scale * (2^24 - cdf1) = scale * 2^24 - scale * cdf1
      let lo = dL - this.pL;
      let hi = dH - this.pH;
      if (lo < 0) {
        lo += TWO32;
        hi -= 1;
      }
      this.dH = hi;
      this.dL = lo;
      lo = tL - this.pL;
      hi = tH - this.pH;
      if (lo < 0) {
        lo += TWO32;
        hi -= 1;
      }
      this.rH = hi;
      this.rL = lo;
      bit = 1;
    }
    if (this.rH === 0) { // range < 2^32: d = d << 32 | next word (d < range < 2^32), range <<= 32
      this.dH = this.dL;
      this.dL = this.next < this.words.length ? this.words[this.next++] : 0;
      this.rH = this.rL;
      this.rL = 0;
    }
    return bit;
  }

  /** One symbol of a categorical model (its cdf: categoricalCdf); BitstreamError(INVALID_DATA) on bad data. */
  decodeSymbol(cdf) {
    const scale = this.rH * TWO8 + Math.floor(this.rL / TWO24);
    const { dH, dL } = this;
    const tH = this.rH;
    const tL = this.rL - (this.rL % TWO24);
    if (dH > tH || (dH === tH && dL >= tL)) throw new BitstreamError(INVALID_DATA);
    let lo = 0; // the largest symbol s with scale * cdf[s] <= d
    let hi = cdf.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      this.product(scale, cdf[mid]);
      if (dH > this.pH || (dH === this.pH && dL >= this.pL)) lo = mid;
      else hi = mid;
    }
    this.product(scale, cdf[lo]); // d -= scale * left; range = scale * probability
    let l = dL - this.pL;
    let u = dH - this.pH;
    if (l < 0) {
      l += TWO32;
      u -= 1;
    }
    this.dH = u;
    this.dL = l;
    this.product(scale, cdf[lo + 1] - cdf[lo]);
    this.rH = this.pH;
    this.rL = this.pL;
    if (this.rH === 0) {
      this.dH = this.dL;
      this.dL = this.next < this.words.length ? this.words[this.next++] : 0;
      this.rH = this.rL;
      this.rL = 0;
    }
    return lo;
  }
}

/** Context-adaptive binary arithmetic decoding of one file's iterations (rnncomp's ContextCoder). */
export class ContextCoder {
  /**
   * @param prior the prior coder's starting counts {fine_n, fine_1, coarse_n, coarse_1} (arrays of integers),
   *   or null for the context coder (counts start at zero).
   */
  constructor(h, w, bits, prior = null) {
    this.h = h;
    this.w = w;
    this.c = bits;
    this.iteration = 0;
    this.sched = null;
    const nFine = ITERATION_BUCKETS * NB_CONTEXTS * bits;
    this.fineN = new Float64Array(nFine);
    this.fine1 = new Float64Array(nFine);
    this.coarseN = new Float64Array(NB_CONTEXTS);
    this.coarse1 = new Float64Array(NB_CONTEXTS);
    this.prev = null;
    if (prior) {
      for (const [key, target] of [['fine_n', this.fineN], ['fine_1', this.fine1], ['coarse_n', this.coarseN],
        ['coarse_1', this.coarse1]]) {
        const value = prior[key];
        if (!value || value.length !== target.length) {
          throw new BitstreamError(`the context prior is for codes of another depth (${key} has shape `
            + `(${value ? value.length : 0},), (${target.length},) needed for ${bits} bits)`);
        }
        target.set(value);
      }
    }
  }

  /**
   * One iteration through the context model: decodes with `decoder`, or only advances the counts over `known`.
   * `active` (Uint8Array(h * w), SABR files: entropy/sabr.js): only those blocks, in the same order; the others
   * read as 0 bits (in this iteration's contexts and as the next one's prev) and update no counts.
   */
  run(decoder, known, active = null) {
    const { h, w, c } = this;
    const W1 = w + 1;
    const cur = new Uint8Array((h + 1) * W1 * c); // zero border above and left
    const bucket = Math.min(this.iteration, ITERATION_BUCKETS - 1);
    const fineBase = bucket * NB_CONTEXTS * c;
    if (!this.sched) this.sched = schedule(h, w);
    const { ys, xs, bounds } = this.sched;
    const { fineN, fine1, coarseN, coarse1 } = this;
    const prev = this.prev;
    let nb = new Int32Array(0);
    let sym = new Uint8Array(0);
    const batch = active ? bounds.reduce((m, v, i) => (i ? Math.max(m, v - bounds[i - 1]) : m), 0) : 0;
    const keptY = new Int32Array(batch);
    const keptX = new Int32Array(batch);
    for (let k = 0; k + 1 < bounds.length; k++) {
      const a = bounds[k];
      let b = bounds[k + 1];
      if (active) { // the batch's active blocks, moved to its front (the order kept); none: the batch is skipped
        let n = a;
        for (let i = a; i < b; i++) {
          if (active[ys[i] * w + xs[i]]) {
            keptY[n - a] = ys[i];
            keptX[n - a] = xs[i];
            n += 1;
          }
        }
        if (n === a) continue;
        b = n;
      }
      const by = active ? keptY : ys;
      const bx = active ? keptX : xs;
      const o = active ? a : 0; // by[i - o]: block i of the batch
      const size = (b - a) * c;
      if (nb.length < size) {
        nb = new Int32Array(size);
        sym = new Uint8Array(size);
      }
      // probabilities of the whole batch from the counts before it, then its symbols
      for (let i = a, j = 0; i < b; i++) {
        const y = by[i - o];
        const x = bx[i - o];
        const upAt = (y * W1 + x + 1) * c;
        const leftAt = ((y + 1) * W1 + x) * c;
        const prevAt = (y * w + x) * c;
        for (let ch = 0; ch < c; ch++, j++) {
          const ctx = prev === null ? 8 + cur[upAt + ch] + 2 * cur[leftAt + ch]
            : cur[upAt + ch] + 2 * cur[leftAt + ch] + 4 * prev[prevAt + ch];
          nb[j] = ctx;
          if (decoder) {
            const fine = fineBase + ctx * c + ch;
            const n1f = fine1[fine];
            const nf = fineN[fine];
            const denS = 2 * coarseN[ctx] + 2;
            const num = n1f * denS + PRIOR_WEIGHT * (2 * coarse1[ctx] + 1);
            const den = (nf + PRIOR_WEIGHT) * denS;
            const X = num * 65536;
            let q = Math.floor(X / den);
            if (q * den > X) q -= 1;
            else if ((q + 1) * den <= X) q += 1;
            const P = Math.min(Math.max(q, 1), 65535);
            sym[j] = decoder.decodeBit(P);
          } else {
            sym[j] = known[prevAt + ch];
          }
        }
      }
      // the symbols into the image, then the counts
      for (let i = a, j = 0; i < b; i++) {
        const at = ((by[i - o] + 1) * W1 + bx[i - o] + 1) * c;
        for (let ch = 0; ch < c; ch++, j++) {
          const s = sym[j];
          cur[at + ch] = s;
          const ctx = nb[j];
          const fine = fineBase + ctx * c + ch;
          fineN[fine] += 1;
          fine1[fine] += s;
          coarseN[ctx] += 1;
          coarse1[ctx] += s;
        }
      }
      halve(fineN, fine1);
      halve(coarseN, coarse1);
    }
    const out = new Uint8Array(h * w * c);
    for (let y = 0; y < h; y++) out.set(cur.subarray(((y + 1) * W1 + 1) * c, ((y + 1) * W1 + 1 + w) * c), y * w * c);
    this.prev = out;
    this.iteration += 1;
    return out;
  }

  decode(payload, active = null) {
    const n = (active ? countActive(active) : this.h * this.w) * this.c;
    if (payload.length < minPayloadBytes(n)) {
      throw new BitstreamError(`corrupt context chunk: ${payload.length} bytes cannot hold ${n} bits`);
    }
    return this.run(new RangeDecoder(wordsForDecoder(payload)), null, active);
  }

  observe(bits, active = null) {
    this.run(null, bits, active);
  }
}

/** The number of nonzero entries of a mask. */
export function countActive(active) {
  let n = 0;
  for (let i = 0; i < active.length; i++) n += active[i] ? 1 : 0;
  return n;
}

/** A count whose total passes 2^16 is halved, rounding up (rnncomp's rule, applied to the whole table). */
function halve(n, n1) {
  let max = 0;
  for (let i = 0; i < n.length; i++) if (n[i] > max) max = n[i];
  if (max <= COUNT_LIMIT) return;
  for (let i = 0; i < n.length; i++) {
    if (n[i] > COUNT_LIMIT) {
      n1[i] = Math.floor((n1[i] + 1) / 2);
      n[i] = Math.floor((n[i] + 1) / 2);
    }
    if (n1[i] > n[i]) n1[i] = n[i];
  }
}

/** The prior coder without a prior: rnncomp's message. */
export function missingPriorError() {
  return new RnncompError("the 'prior' entropy coder needs the model's context prior "
    + '(this model has none: fit one with rnncomp fit-prior)');
}
