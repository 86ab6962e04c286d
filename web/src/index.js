// rnncomp-web: decode rnncomp .rnc files in the browser (and Node) with the exported ONNX decoder network.
export {
  ChunkReader, Header, parse, parseHeader, truncate, serialize, CODERS, singleKind,
} from './bitstream.js';
export { codeDecoder, readCodes, newCoder, DECODED_CODERS } from './codes.js';
export { RangeDecoder, ContextCoder } from './entropy/context.js';
export { decodeBytes } from './entropy/huffman.js';
export { packRaw, unpackRaw } from './entropy/raw.js';
export { decodeMap, activeBlocks, MaskedCoder } from './entropy/sabr.js';
export { decodeValues } from './entropy/compact.js';
export { RncDecoder, toUint8 } from './decoder.js';
export {
  RnncompError, BitstreamError, WrongModelError, UnsupportedError,
} from './errors.js';
