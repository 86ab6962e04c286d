// The exported decoder network, one iteration per chunk, as the chunks arrive (docs/export.md's loop):
// zeros for every input the manifest lists under 'feedback', then one call per chunk with bits = b_t, each output
// fed back to its input; pixels = clip(round(255 * image), 0, 255), round half to even, as numpy.
//
// onnxruntime is passed in (onnxruntime-web in the browser and in Node), so this module runs in both.

import { ChunkReader } from './bitstream.js';
import { codeDecoder } from './codes.js';
import { UnsupportedError, WrongModelError } from './errors.js';

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** uint8 pixels of a float32 image in [0, 1]: clip(round(255 * x)), round half to even (numpy's). */
export function toUint8(image, out = new Uint8Array(image.length)) {
  for (let i = 0; i < image.length; i++) {
    const x = Math.fround(image[i] * 255);
    let r = Math.round(x);
    if (r - x === 0.5 && r % 2 !== 0) r -= 1; // a tie rounds to even
    out[i] = r < 0 ? 0 : r > 255 ? 255 : r;
  }
  return out;
}

/** An iterable of Uint8Array pieces of a ReadableStream (a fetch body), a Uint8Array or an async iterable. */
async function* pieces(source) {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (source && typeof source.getReader === 'function') {
    const reader = source.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  for await (const value of source) yield value;
}

/** Decodes .rnc files of the exported model with onnxruntime: whole, or progressively from a stream. */
export class RncDecoder {
  /**
   * @param ort onnxruntime-web's module; @param model the decoder .onnx (bytes or URL); @param manifest its
   * manifest.json (parsed); @param prior the model's context prior (for the prior coder), or null.
   */
  static async create({ ort, model, manifest, prior = null, sessionOptions = {} }) {
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], ...sessionOptions });
    return new RncDecoder(ort, session, manifest, prior);
  }

  constructor(ort, session, manifest, prior) {
    if (manifest.kind !== 'recurrent') {
      throw new UnsupportedError(`this export is of a ${manifest.kind} codec; the web decoder runs recurrent ones`);
    }
    this.ort = ort;
    this.session = session;
    this.manifest = manifest;
    this.prior = prior;
    this.art = manifest.artefacts.decoder;
    this.inputs = Object.fromEntries(this.art.inputs.map((p) => [p.name, p]));
  }

  /** Throws, from the header alone, when this export cannot decode the file. */
  check(header) {
    const m = this.manifest.model;
    const fp = hex(header.fingerprint);
    if (fp !== m.fingerprint) {
      throw new WrongModelError(`this file was written by ${header.modelName ? `the model ${header.modelName}`
        : 'an unshipped model'} (fingerprint ${fp}), not by ${m.name} (${m.fingerprint}), which this page decodes with`);
    }
    if (header.stride !== m.stride || header.bits !== m.bits) {
      throw new WrongModelError(`the file has stride ${header.stride} and ${header.bits} bits, the model ${m.stride} and ${m.bits}`);
    }
    if (header.tile) throw new UnsupportedError('a tiled file: the web decoder decodes untiled files only');
    const [H, W] = this.manifest.image_size;
    if (header.height !== H || header.width !== W) {
      throw new UnsupportedError(`a ${header.height}x${header.width} image: this export decodes ${H}x${W} images `
        + '(export one at that size with rnncomp export --size)');
    }
  }

  zeros() {
    const state = {};
    for (const name of Object.keys(this.art.feedback)) {
      const p = this.inputs[name];
      state[name] = new this.ort.Tensor('float32', new Float32Array(p.shape.reduce((a, b) => a * b, 1)), p.shape);
    }
    return state;
  }

  /**
   * One decoder iteration: [image float32, next state]. `active` (adaptive files: header.active(t)): the blocks
   * sent; the others get zero codes, fed as 0.5 (the graph's bits * 2 - 1 makes it 0, "nothing sent").
   */
  async step(bits, state, active = null) {
    const p = this.inputs.bits;
    const b = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) b[i] = bits[i];
    if (active) {
      const B = bits.length / active.length;
      for (let i = 0; i < bits.length; i++) if (!active[Math.floor(i / B)]) b[i] = 0.5;
    }
    const out = await this.session.run({ bits: new this.ort.Tensor('float32', b, p.shape), ...state });
    const next = {};
    for (const [input, output] of Object.entries(this.art.feedback)) next[input] = out[output];
    return [out.image.data, next];
  }

  /**
   * Decodes a file as its bytes arrive: `source` is a ReadableStream (fetch(url).body), an async iterable of
   * Uint8Array pieces or a Uint8Array. onImage({iteration, pixels (H*W*3 uint8), width, height, bytes, ms,
   * header}) is called after every chunk, as soon as it is complete and verified. Resolves to the last one.
   * Options: iterations (stop after that many), partial (a file cut short ends with its complete chunks).
   */
  async decodeStream(source, { onImage = () => {}, iterations = null, partial = false, onHeader = () => {} } = {}) {
    const reader = new ChunkReader({ iterations, partial });
    let decodeCodes = null;
    let state = null;
    let last = null;
    let bytes = 0;
    let ms = 0;
    const take = async (payloads) => {
      if (!decodeCodes && reader.header) {
        this.check(reader.header);
        decodeCodes = codeDecoder(reader.header, this.prior);
        state = this.zeros();
        onHeader(reader.header);
      }
      for (const payload of payloads) {
        const t0 = performance.now();
        const t = reader.payloads.indexOf(payload) + 1;
        const bits = decodeCodes(payload);
        let image;
        [image, state] = await this.step(bits, state, reader.header.adaptive ? reader.header.active(t) : null);
        const pixels = toUint8(image);
        ms += performance.now() - t0;
        last = { iteration: t, pixels, width: reader.header.width,
          height: reader.header.height, bytes, ms, header: reader.header };
        onImage(last);
      }
    };
    for await (const piece of pieces(source)) {
      bytes += piece.length;
      await take(reader.push(piece));
    }
    await take(reader.end());
    return last;
  }

  /** Every iteration's uint8 pixels of a whole file (an array, one per chunk). */
  async decodeAll(data, options = {}) {
    const images = [];
    await this.decodeStream(data, { ...options, onImage: (r) => images.push(r.pixels) });
    return images;
  }
}
