// From verified chunk payloads to code bits, iteration by iteration (rnncomp.bitstream.iter_codes).

import { BitstreamError, UnsupportedError } from './errors.js';
import { CODERS } from './bitstream.js';
import { unpackRaw } from './entropy/raw.js';
import { HuffmanCoder } from './entropy/huffman.js';
import { ContextCoder, missingPriorError } from './entropy/context.js';
import { MaskedCoder } from './entropy/sabr.js';

/** The coders this decoder has, by name. */
export const DECODED_CODERS = ['raw', 'huffman', 'context', 'prior'];

/** A raw-only coder: every chunk is the raw packing. */
class RawCoder {
  constructor() {
    this.iteration = 0;
  }

  decode() {
    throw new BitstreamError('the raw coder stores every chunk raw');
  }

  observe() {
    this.iteration += 1;
  }
}

/** A fresh decoder of one file's iterations of shape [h, w, bits] (rnncomp.entropy.new_coder). */
export function newCoder(header, prior = null) {
  const [h, w, bits] = header.iterationShape;
  const name = header.coder;
  if (!DECODED_CODERS.includes(name)) {
    throw new UnsupportedError(`this file uses the entropy coder ${name === undefined ? `with id ${header.coderId}`
      : `'${name}'`}, which this web decoder does not decode (it decodes ${DECODED_CODERS.join(', ')}); `
      + 'decode it with rnncomp decompress');
  }
  if (name === 'prior') {
    if (!prior) throw missingPriorError();
    return new ContextCoder(h, w, bits, prior);
  }
  if (name === 'context') return new ContextCoder(h, w, bits);
  if (name === 'huffman') return new HuffmanCoder(h, w, bits);
  return new RawCoder();
}

/**
 * Turns each verified payload into its iteration's bits (Uint8Array of 0/1, C order of [h, w, bits]), in order:
 * const step = codeDecoder(header); bits = step(payload). In an adaptive file the blocks not sent in iteration t
 * read as 0 here; header.active(t) says which they are (the network gets zero codes for them).
 */
export function codeDecoder(header, prior = null) {
  if (header.adaptive) { // a SABR file: only the active blocks' bits, zeros elsewhere (entropy/sabr.js)
    const [h, w, bits] = header.iterationShape;
    const masked = new MaskedCoder(header.coder, h, w, bits, prior);
    let t = 0;
    return (payload) => {
      t += 1;
      return masked.decode(payload, header.active(t));
    };
  }
  const coder = newCoder(header, prior);
  const n = header.iterationBits;
  let count = 0;
  return (payload) => {
    count += 1;
    if (payload.length === header.rawChunkSize) {
      let bits;
      try {
        bits = unpackRaw(payload, n);
      } catch (e) {
        throw new BitstreamError(`corrupt file: iteration ${count}: ${e.message}`);
      }
      coder.observe(bits);
      return bits;
    }
    return coder.decode(payload);
  };
}

/** Every iteration's bits of a parsed file ({header, payloads}). */
export function readCodes(file, prior = null) {
  const step = codeDecoder(file.header, prior);
  return file.payloads.map((p) => step(p));
}

export { CODERS };
