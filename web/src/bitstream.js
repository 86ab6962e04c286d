// The .rnc container, version 1, as docs/bitstream.md specifies it: a port of rnncomp/bitstream.py's reader
// (every check, every limit, the same messages) for recurrent-codec files, untiled and tiled. End-to-end and
// hyperprior (latent) files are recognised and refused with the same messages as rnncomp's binary-code reader.
// Version-2 headers (flag bit 6: coder ids 4-7, the `learned` coder) are read and checked as rnncomp reads them;
// their coder is not decoded here (codes.js refuses it by name). Version-3 (spatially adaptive, SABR) files are
// read: the iteration map in the header (entropy/sabr.js), chunks of the active blocks' bits only.
//
// parse(bytes) reads a whole file; ChunkReader reads one as its bytes arrive and hands out each chunk's payload
// as soon as its check is verified (what a progressive page needs); truncate(bytes, j) is rnncomp.bitstream.truncate.

import { BitstreamError, RnncompError, UnsupportedError } from './errors.js';
import { crc32 } from './crc32.js';
import { activeBlocks, decodeMap, tileGrid } from './entropy/sabr.js';
import { countActive } from './entropy/context.js';

export const MAGIC = [0x52, 0x4e]; // "RN"
export const VERSION = 1;
/** The version of files whose coder id is 4 or more (flag bit 6 then holds the id's bit 2). */
export const VERSION_EXTENDED = 2;
/** Spatially adaptive (SABR) files (docs/bitstream.md, "Version 3"): an iteration map in the header. */
export const VERSION_SABR = 3;
/** The versions this reader reads (rnncomp.bitstream.VERSIONS). */
export const VERSIONS = [VERSION, VERSION_EXTENDED, VERSION_SABR];
/** The largest side of a SABR tile, in code blocks. */
export const MAX_SABR_TILE = 64;
export const FINGERPRINT_BYTES = 4;
export const CHECK_BYTES = 1;
export const LAST_CHECK_BYTES = 3;
export const MAX_SIDE = 16384;
export const MAX_PIXELS = 2 ** 26;
export const MAX_BITS = 4096;
export const MAX_STRIDE = 128;
export const MAX_ITERATIONS = 64;
export const MAX_CODE_POSITIONS = 2 ** 20;
export const MAX_ITERATION_BITS = 2 ** 24;
export const MAX_NAME = 64;
/** rnncomp/coder_names.py's CODERS, by header id. */
export const CODERS = ['raw', 'huffman', 'context', 'prior', 'learned'];
/** The most code bits one byte of a context payload may carry (rnncomp.entropy.context.MAX_BITS_PER_BYTE). */
export const MAX_BITS_PER_BYTE = 1024;
export const DEFAULT_MODEL = 'rnncomp-default';

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/;
const KIND_DEFAULT = 0;
const KIND_NAMED = 1;
const KIND_UNNAMED = 2;
const FLAG_COMPACT = 0x10;
const FLAG_TILED = 0x20;
const FLAG_LATENT = FLAG_COMPACT | FLAG_TILED;
const FLAG_CODER_HIGH = 0x40;

const COMPACT_NOT_BINARY = 'this is an end-to-end codec file (a compact image), not a recurrent-codec '
  + 'file: read it with read_compact / rnncomp decompress';
const LATENT_NOT_BINARY = 'this is a hyperprior-codec file (range-coded latents), not a recurrent-codec '
  + 'file: read it with rnncomp decompress';

/** ceil(a / b) for positive integers (exact for the sizes the format allows). */
const ceilDiv = (a, b) => Math.floor((a + b - 1) / b);

/** The shortest context payload allowed for n coded bits. */
export const minPayloadBytes = (n) => ceilDiv(n, MAX_BITS_PER_BYTE);

/** (window length, number of windows) along one axis (rnncomp.tiling.axis_windows). */
export function axisWindows(length, tile, overlap, stride) {
  if (length <= tile) return [length, 1];
  const n = ceilDiv(length - overlap, tile - overlap);
  const w = stride * ceilDiv(length + (n - 1) * overlap, n * stride);
  return [w, n];
}

/** Everything in a file but the chunks (rnncomp.bitstream.Header), with its derived sizes. */
export class Header {
  constructor(fields) {
    Object.assign(this, { tile: 0, overlap: 0, modelName: '', sabrTile: 0, iterationMap: null, ...fields });
    if (this.tile || this.overlap) {
      const s = this.stride;
      if (!(this.tile > 0 && this.tile <= MAX_SIDE && this.tile % s === 0 && this.overlap % s === 0
        && 2 * this.overlap > 0 && 2 * this.overlap <= this.tile)) {
        throw new BitstreamError(`tile ${this.tile} / overlap ${this.overlap} px: both must be multiples `
          + `of the stride ${s}, with 0 < 2 * overlap <= tile <= ${MAX_SIDE}`);
      }
    }
    checkGeometry(this.height, this.width, this.stride, this.bits, this.iterations, this.codeShape);
  }

  /** [h, w]: code vectors per column and row (of all windows side by side, when tiled). */
  get codeShape() {
    const s = this.stride;
    if (this.tile) {
      const [wh, ny] = axisWindows(this.height, this.tile, this.overlap, s);
      const [ww, nx] = axisWindows(this.width, this.tile, this.overlap, s);
      return [ny * ceilDiv(wh, s), nx * ceilDiv(ww, s)];
    }
    return [ceilDiv(this.height, s), ceilDiv(this.width, s)];
  }

  get paddedShape() {
    const [h, w] = this.codeShape;
    return [h * this.stride, w * this.stride];
  }

  /** Whether this is a spatially adaptive (SABR, version 3) file: sabrTile, iterationMap (raster order of mapGrid). */
  get adaptive() {
    return Boolean(this.sabrTile);
  }

  get mapGrid() {
    return tileGrid(this.codeShape, this.sabrTile);
  }

  /** Uint8Array(h * w): the code blocks sent in iteration t (1-based); all of them in a uniform file. */
  active(t) {
    if (!this.adaptive) return new Uint8Array(this.codeShape[0] * this.codeShape[1]).fill(1);
    return activeBlocks(this.iterationMap, this.sabrTile, this.codeShape, t);
  }

  /** Code bits sent in iteration t (1-based). */
  chunkBits(t) {
    if (!this.adaptive) return this.iterationBits;
    let n = 0;
    for (const m of this.iterationMap) n += m >= t ? 1 : 0;
    if (n === this.iterationMap.length) return this.iterationBits; // every tile: every block
    return countActive(this.active(t)) * this.bits;
  }

  /** Bytes of chunk t's raw packing (1-based; its largest payload). */
  chunkRawSize(t) {
    return Math.floor((this.chunkBits(t) + 7) / 8);
  }

  get iterationShape() {
    return [...this.codeShape, this.bits];
  }

  get iterationBits() {
    const [h, w] = this.codeShape;
    return h * w * this.bits;
  }

  /** Bytes of one iteration's raw packing (the largest payload). */
  get rawChunkSize() {
    return Math.floor((this.iterationBits + 7) / 8);
  }
}

function checkGeometry(height, width, stride, bits, iterations, codeShape) {
  for (const [name, value] of [['height', height], ['width', width]]) {
    if (!(value >= 1 && value <= MAX_SIDE)) throw new BitstreamError(`image ${name} ${value} is outside 1..${MAX_SIDE}`);
  }
  if (height * width > MAX_PIXELS) {
    throw new BitstreamError(`image of ${height}x${width} pixels is over the limit of ${MAX_PIXELS} pixels`);
  }
  if (!(stride >= 1 && stride <= MAX_STRIDE && (stride & (stride - 1)) === 0)) {
    throw new BitstreamError(`stride ${stride} is not a power of two in 1..${MAX_STRIDE}`);
  }
  if (!(bits >= 1 && bits <= MAX_BITS)) throw new BitstreamError(`${bits} bits per code vector is outside 1..${MAX_BITS}`);
  if (!(iterations >= 1 && iterations <= MAX_ITERATIONS)) {
    throw new BitstreamError(`${iterations} iterations is outside 1..${MAX_ITERATIONS}`);
  }
  const [h, w] = codeShape;
  const positions = h * w;
  if (positions > MAX_CODE_POSITIONS) {
    throw new BitstreamError(`${positions} code vectors per iteration is over the limit of ${MAX_CODE_POSITIONS}`);
  }
  const n = positions * bits;
  if (n > MAX_ITERATION_BITS) {
    throw new BitstreamError(`${n} code bits per iteration is over the limit of ${MAX_ITERATION_BITS}`);
  }
}

// --- varints --------------------------------------------------------------------------------------------------

/** Unsigned LEB128 of a non-negative integer. */
export function varint(value) {
  const out = [];
  for (;;) {
    const byte = value % 128;
    value = Math.floor(value / 128);
    if (value) out.push(byte | 0x80);
    else {
      out.push(byte);
      return out;
    }
  }
}

/** [value, next position]; at most 5 bytes, minimally encoded (as rnncomp's _read_varint). */
export function readVarint(data, pos, what, maxBytes = 5) {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (pos + i >= data.length) throw new BitstreamError(`truncated file: ${what} cut short`);
    const byte = data[pos + i];
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (!(byte & 0x80)) {
      if (byte === 0 && i > 0) throw new BitstreamError(`corrupt file: ${what} is not minimally encoded`);
      return [value, pos + i + 1];
    }
  }
  throw new BitstreamError(`corrupt file: ${what} is too long a number`);
}

// --- the header -----------------------------------------------------------------------------------------------

function startsWith(data, bytes) {
  return data.length >= bytes.length && bytes.every((b, i) => data[i] === b);
}

function notRncMessage(data) {
  if (startsWith(data, [0x89, 0x50, 0x4e, 0x47])) {
    return 'not an rnncomp file: it is a PNG image (decompress reads .rnc files)';
  }
  if (startsWith(data, [0xff, 0xd8, 0xff])) return 'not an rnncomp file: it is a JPEG image (decompress reads .rnc files)';
  if (startsWith(data, [0x52, 0x49, 0x46, 0x46])) return 'not an rnncomp file: it is a RIFF (e.g. WebP) file';
  return "not an rnncomp file (it does not start with the 'RN' magic)";
}

/** {coderId, compact, tiled, modelName, fingerprint, pos} of a file's header start (rnncomp's _parse_prefix). */
function parsePrefix(data) {
  if (data.length < 2) {
    if (data.length === 0) throw new BitstreamError('empty file');
    if (data[0] !== MAGIC[0]) throw new BitstreamError(notRncMessage(data));
    throw new BitstreamError('truncated file: shorter than the magic');
  }
  if (data[0] !== MAGIC[0] || data[1] !== MAGIC[1]) throw new BitstreamError(notRncMessage(data));
  if (data.length < 4) throw new BitstreamError('truncated file: header cut short');
  const version = data[2];
  if (!VERSIONS.includes(version)) {
    const known = VERSIONS.join(', ');
    throw new BitstreamError(`unsupported format version ${version} (this rnncomp reads versions ${known})`);
  }
  const flags = data[3];
  let coderId = flags & 3;
  const kind = (flags >> 2) & 3;
  const compact = Boolean(flags & FLAG_COMPACT);
  const tiled = Boolean(flags & FLAG_TILED);
  if (version === VERSION_EXTENDED) {
    // flag bit 6 is bit 2 of a binary-code file's coder id, and must be set
    if (compact || !(flags & FLAG_CODER_HIGH) || flags >> 7) {
      throw new BitstreamError('corrupt header: bad flags for a version-2 file');
    }
    coderId |= 4;
  } else if (version === VERSION_SABR) {
    if (flags & (FLAG_LATENT | 0xc0)) {
      throw new BitstreamError('corrupt header: bad flags for a version-3 (adaptive) file');
    }
  } else if (flags >> 6) throw new BitstreamError('corrupt header: reserved flag bits are set');
  if (kind > KIND_UNNAMED) throw new BitstreamError('corrupt header: unknown model naming');
  let pos = 4;
  let modelName;
  if (kind === KIND_NAMED) {
    if (pos >= data.length) throw new BitstreamError('truncated file: header cut short');
    const n = data[pos];
    if (!(n >= 1 && n <= MAX_NAME)) throw new BitstreamError(`corrupt header: model name length ${n}`);
    if (pos + 1 + n > data.length) throw new BitstreamError('truncated file: header cut short');
    modelName = String.fromCharCode(...data.subarray(pos + 1, pos + 1 + n));
    if (!NAME_RE.test(modelName)) throw new BitstreamError('corrupt header: bad characters in the model name');
    pos += 1 + n;
  } else {
    modelName = kind === KIND_DEFAULT ? DEFAULT_MODEL : '';
  }
  if (pos + FINGERPRINT_BYTES + 1 > data.length) throw new BitstreamError('truncated file: header cut short');
  const fingerprint = data.slice(pos, pos + FINGERPRINT_BYTES);
  return { coderId, compact, tiled, modelName, fingerprint, pos: pos + FINGERPRINT_BYTES, version };
}

/** [Header, header length] of a recurrent-codec file (rnncomp's _parse_header). */
export function parseHeader(data) {
  const { coderId, compact, tiled, modelName, fingerprint, pos: start, version } = parsePrefix(data);
  if (compact) throw new BitstreamError(tiled ? LATENT_NOT_BINARY : COMPACT_NOT_BINARY);
  if (coderId >= CODERS.length) throw new BitstreamError(`corrupt header: unknown entropy coder id ${coderId}`);
  let pos = start;
  const strideLog2 = data[pos];
  pos += 1;
  if (strideLog2 > 7) throw new BitstreamError(`corrupt header: stride 2^${strideLog2} is over ${MAX_STRIDE}`);
  let bits; let height; let width; let iterations;
  [bits, pos] = readVarint(data, pos, 'header');
  [height, pos] = readVarint(data, pos, 'header');
  [width, pos] = readVarint(data, pos, 'header');
  [iterations, pos] = readVarint(data, pos, 'header');
  let tile = 0;
  let overlap = 0;
  if (tiled) {
    [tile, pos] = readVarint(data, pos, 'header');
    [overlap, pos] = readVarint(data, pos, 'header');
    tile *= 2 ** strideLog2;
    overlap *= 2 ** strideLog2;
    if (!tile) throw new BitstreamError('corrupt header: a tiled file with tile size 0');
  }
  let sabr = {};
  if (version === VERSION_SABR) [sabr, pos] = parseSabr(data, pos, height, width, 2 ** strideLog2, bits, iterations);
  const header = new Header({
    height, width, stride: 2 ** strideLog2, bits, iterations, coderId, coder: CODERS[coderId], modelName,
    fingerprint, tile, overlap, ...sabr,
  });
  return [header, pos];
}

/** [the SABR fields of a version-3 header (the tile side, the decoded map and its bytes), the position after]. */
function parseSabr(data, pos, height, width, stride, bits, iterations) {
  const codeShape = [ceilDiv(height, stride), ceilDiv(width, stride)];
  checkGeometry(height, width, stride, bits, iterations, codeShape); // before the map is decoded
  let tile;
  [tile, pos] = readVarint(data, pos, 'header');
  if (!(tile >= 1 && tile <= MAX_SABR_TILE)) {
    throw new BitstreamError(`corrupt header: SABR tile of ${tile} code blocks is outside 1..${MAX_SABR_TILE}`);
  }
  if (pos >= data.length) throw new BitstreamError('truncated file: header cut short');
  const mapCoderId = data[pos];
  let n;
  [n, pos] = readVarint(data, pos + 1, 'length of the iteration map');
  if (pos + n > data.length) throw new BitstreamError('truncated file: the iteration map is cut short');
  const mapPayload = data.slice(pos, pos + n);
  const iterationMap = decodeMap(mapCoderId, mapPayload, tileGrid(codeShape, tile), iterations);
  return [{ sabrTile: tile, iterationMap, mapCoderId, mapPayload }, pos + n];
}

function packHeader(h) {
  let kind; let name = [];
  if (h.modelName === DEFAULT_MODEL) kind = KIND_DEFAULT;
  else if (h.modelName) {
    kind = KIND_NAMED;
    name = [h.modelName.length, ...Array.from(h.modelName, (c) => c.charCodeAt(0))];
  } else kind = KIND_UNNAMED;
  const high = h.coderId >= 4; // a coder of format version 2
  const flags = (h.coderId & 3) | (kind << 2) | (h.tile ? FLAG_TILED : 0) | (high ? FLAG_CODER_HIGH : 0);
  const strideLog2 = Math.log2(h.stride);
  // an adaptive header keeps the map's bytes as read (a new map needs rnncomp's map encoder: truncate refuses)
  const sabr = h.adaptive ? [...varint(h.sabrTile), h.mapCoderId, ...varint(h.mapPayload.length), ...h.mapPayload] : [];
  return Uint8Array.from([
    ...MAGIC, high ? VERSION_EXTENDED : h.adaptive ? VERSION_SABR : VERSION, flags, ...name, ...h.fingerprint,
    strideLog2, ...varint(h.bits), ...varint(h.height),
    ...varint(h.width), ...varint(h.iterations),
    ...(h.tile ? [...varint(h.tile / h.stride), ...varint(h.overlap / h.stride)] : []), ...sabr,
  ]);
}

// --- end-to-end and latent files: checked as rnncomp checks them, then refused (not decoded here) -------------

const MAX_COMPACT_CHANNELS = 64;
const MAX_RATE_POINT = 255;
const MAX_LATENT_PIXELS = 2 ** 24;

/** Whether data starts like an end-to-end (compact) or a latent file: 'compact', 'latent' or null. */
export function singleKind(data) {
  if (data.length < 4 || data[0] !== MAGIC[0] || data[1] !== MAGIC[1]) return null;
  const kind = data[3] & FLAG_LATENT;
  return kind === FLAG_COMPACT ? 'compact' : kind === FLAG_LATENT ? 'latent' : null;
}

/** Reads an end-to-end or latent file's header and check with rnncomp's messages; refuses it if they pass. */
function refuseSingle(data, kind) {
  const { coderId, modelName, pos: start } = parsePrefix(data);
  let pos = start;
  if (kind === 'compact') {
    if (pos + 2 > data.length) throw new BitstreamError('truncated file: header cut short');
    const scaleLog2 = data[pos];
    const levelsLog2 = data[pos + 1];
    if (scaleLog2 > 7) throw new BitstreamError(`corrupt header: scale 2^${scaleLog2} is over ${MAX_STRIDE}`);
    if (!(levelsLog2 >= 1 && levelsLog2 <= 8)) throw new BitstreamError(`corrupt header: 2^${levelsLog2} levels`);
    let channels; let height; let width;
    [channels, pos] = readVarint(data, pos + 2, 'header');
    [height, pos] = readVarint(data, pos, 'header');
    [width, pos] = readVarint(data, pos, 'header');
    if (!(channels >= 1 && channels <= MAX_COMPACT_CHANNELS)) {
      throw new BitstreamError(`${channels} compact-image channels is outside 1..${MAX_COMPACT_CHANNELS}`);
    }
    const scale = 2 ** scaleLog2;
    checkGeometry(height, width, scale, channels, 1, [ceilDiv(height, scale), ceilDiv(width, scale)]);
    if (data.length < pos + LAST_CHECK_BYTES) throw new BitstreamError('truncated file: no compact image after the header');
  } else {
    if (coderId >= 1) throw new BitstreamError(`corrupt header: unknown latent coder id ${coderId}`);
    const strideLog2 = data[pos];
    if (strideLog2 > 7) throw new BitstreamError(`corrupt header: stride 2^${strideLog2} is over ${MAX_STRIDE}`);
    let rate; let height; let width;
    [rate, pos] = readVarint(data, pos + 1, 'header');
    [height, pos] = readVarint(data, pos, 'header');
    [width, pos] = readVarint(data, pos, 'header');
    if (rate > MAX_RATE_POINT) throw new BitstreamError(`corrupt header: rate point ${rate}`);
    const stride = 2 ** strideLog2;
    checkGeometry(height, width, stride, 1, 1, [ceilDiv(height, stride), ceilDiv(width, stride)]);
    if (height * width > MAX_LATENT_PIXELS) {
      throw new BitstreamError(`${height}x${width} is over the ${MAX_LATENT_PIXELS} pixels of a latent file `
        + '(hyperprior files are not tiled)');
    }
    if (data.length < pos + LAST_CHECK_BYTES) throw new BitstreamError('truncated file: no latents after the header');
  }
  const end = data.length - LAST_CHECK_BYTES;
  if (!checkMatches(data, end, crc32(data, 0, 0, end), LAST_CHECK_BYTES)) {
    throw new BitstreamError('damaged file: the check fails (corrupted or cut short)');
  }
  const what = kind === 'compact' ? 'an end-to-end codec file (a compact image)'
    : 'a hyperprior-codec file (range-coded latents)';
  throw new UnsupportedError(`this is ${what}${modelName ? ` of ${modelName}` : ''}: this web decoder decodes `
    + 'recurrent-codec files only; decode it with rnncomp decompress');
}

// --- chunks ---------------------------------------------------------------------------------------------------

const checkValue = (crc, size) => [crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24].slice(0, size);

function checkMatches(data, at, crc, size) {
  const want = checkValue(crc, size);
  for (let i = 0; i < size; i++) if (data[at + i] !== want[i]) return false;
  return true;
}

const NEED_MORE = Symbol('need more bytes');

/**
 * Reads a file as its bytes arrive: push(bytes) returns the payloads of the chunks completed and verified by
 * them, end() those of the rest (and the errors a whole-file read gives). With partial, a file cut short ends
 * with its complete chunks (rnncomp's parse(partial=True)); without, any cut is an error.
 * The header is available as .header once its bytes are in.
 */
export class ChunkReader {
  constructor({ partial = false, iterations = null } = {}) {
    this.partial = partial;
    this.limit = iterations;
    this.buffer = new Uint8Array(0);
    this.length = 0;
    this.header = null;
    this.headerBytes = 0;
    this.payloads = [];
    this.ended = false;
    this.done = false;
  }

  /** The bytes received so far. */
  get data() {
    return this.buffer.subarray(0, this.length);
  }

  push(bytes) {
    if (this.ended) throw new RnncompError('push after end');
    if (this.length + bytes.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(this.length + bytes.length, 2 * this.buffer.length, 256));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this._advance(false);
  }

  end() {
    this.ended = true;
    return this._advance(true);
  }

  _advance(final) {
    const out = [];
    const data = this.data;
    if (!this.header) {
      const kind = singleKind(data);
      if (kind) {
        if (!final) return out;
        refuseSingle(data, kind);
      }
      try {
        [this.header, this.headerBytes] = parseHeader(data);
      } catch (e) {
        if (!final && e instanceof BitstreamError && e.message.startsWith('truncated')) return out;
        throw e;
      }
      const k = this.header.iterations;
      if (this.limit === null) this.limit = k;
      if (!(this.limit >= 1 && this.limit <= k)) {
        throw new RnncompError(`iterations must be in 1..${k} for this file, got ${this.limit}`);
      }
      this.pos = this.headerBytes;
      this.crc = crc32(data, 0, 0, this.pos);
    }
    while (!this.done && this.payloads.length < this.limit) {
      const payload = this._next(data, final);
      if (payload === NEED_MORE) return out;
      if (payload === null) { // partial: the complete chunks end here
        this.done = true;
        break;
      }
      this.payloads.push(payload);
      out.push(payload);
    }
    this.done = this.done || this.payloads.length >= this.limit || final;
    const h = this.header;
    if (final && h.coder === 'raw' && this.limit >= h.iterations && this.pos !== data.length && !this.partial) {
      throw new BitstreamError(`corrupt file: ${data.length - this.pos} unexpected bytes after the last iteration`);
    }
    if (final && this.payloads.length === 0) {
      throw new BitstreamError('truncated file: not even the first iteration is complete');
    }
    return out;
  }

  /** The next chunk's verified payload, NEED_MORE, or null (partial: the file ends before this chunk). */
  _next(data, final) {
    const h = this.header;
    const k = h.iterations;
    const t = this.payloads.length;
    const raw = h.chunkRawSize(t + 1);
    const last = t + 1 === k;
    const c = last ? LAST_CHECK_BYTES : CHECK_BYTES;
    const where = `iteration ${t + 1} of ${k}`;
    const pos = this.pos;
    let n; let start;
    if (h.coder === 'raw') {
      n = raw;
      start = pos;
    } else if (!last) {
      try {
        [n, start] = readVarint(data, pos, `length of ${where}`);
      } catch (e) {
        if (!final && data.length - pos < 5) return NEED_MORE; // more bytes decide
        if (this.partial && data.length - pos < 5) return null;
        throw e;
      }
      if (n > raw) throw new BitstreamError(`corrupt file: ${where} declares ${n} bytes, more than raw (${raw})`);
    } else {
      if (!final) return NEED_MORE; // the last payload runs to the end of the file less its check
      n = data.length - pos - c;
      start = pos;
      if (n > raw) throw new BitstreamError(`corrupt file: ${n - raw} more bytes after the last iteration than it can hold`);
    }
    const end = start + n;
    if (n < 0 || end + c > data.length) {
      if (!final) return NEED_MORE;
      if (this.partial) return null;
      throw new BitstreamError(`truncated file: ${where} cut short`);
    }
    if (h.coder !== 'raw' && n < raw && ['context', 'prior', 'learned'].includes(h.coder)
      && n < minPayloadBytes(h.chunkBits(t + 1))) {
      if (this.partial && last) return null;
      throw new BitstreamError(`corrupt file: ${where} is too short to hold its bits`);
    }
    let crc = crc32(data, this.crc, pos, end);
    if (!checkMatches(data, end, crc, c)) {
      if (this.partial && last) return null;
      throw new BitstreamError(`damaged file: the check of ${where} fails (corrupted or cut short)`);
    }
    crc = crc32(data, crc, end, end + c);
    this.crc = crc;
    this.pos = end + c;
    return data.slice(start, end);
  }
}

/** A parsed and checked file (rnncomp.bitstream.RncFile): {data, header, headerBytes, payloads}. */
export function parse(data, { iterations = null, partial = false } = {}) {
  data = data instanceof Uint8Array ? data : new Uint8Array(data);
  const reader = new ChunkReader({ partial, iterations });
  reader.push(data);
  reader.end();
  return { data, header: reader.header, headerBytes: reader.headerBytes, payloads: reader.payloads };
}

/** A file of `header` and `payloads` with its length fields and checks (rnncomp's _serialize). */
export function serialize(header, payloads) {
  const parts = [packHeader(header)];
  let crc = crc32(parts[0]);
  payloads.forEach((payload, t) => {
    const lastChunk = t + 1 === payloads.length;
    if (!lastChunk && header.coder !== 'raw') {
      const prefix = Uint8Array.from(varint(payload.length));
      parts.push(prefix);
      crc = crc32(prefix, crc);
    }
    parts.push(payload);
    crc = crc32(payload, crc);
    const check = Uint8Array.from(checkValue(crc, lastChunk ? LAST_CHECK_BYTES : CHECK_BYTES));
    parts.push(check);
    crc = crc32(check, crc);
  });
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The file cut to its first j chunks: byte for byte rnncomp.bitstream.truncate (a valid j-iteration file). */
export function truncate(data, j) {
  const f = data.payloads ? data : parse(data);
  const k = f.header.iterations;
  if (!(j >= 1 && j <= k)) throw new RnncompError(`iterations must be in 1..${k}, got ${j}`);
  if (j === k) return f.data;
  if (f.header.adaptive) {
    throw new UnsupportedError('truncating a spatially adaptive (SABR) file re-codes its iteration map, which this '
      + 'web decoder does not: use rnncomp truncate, or read its first j chunks (parse or ChunkReader with '
      + 'iterations: j)');
  }
  const header = Object.create(Header.prototype, Object.getOwnPropertyDescriptors({ ...f.header, iterations: j }));
  return serialize(header, f.payloads.slice(0, j));
}
