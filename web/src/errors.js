// The errors of rnncomp (rnncomp/errors.py), with the same names and messages.

/** Any problem a user can act on (rnncomp.errors.RnncompError). */
export class RnncompError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RnncompError';
  }
}

/** A problem with a file's bytes: damaged, cut, hostile (rnncomp.bitstream.BitstreamError). */
export class BitstreamError extends RnncompError {
  constructor(message) {
    super(message);
    this.name = 'BitstreamError';
  }
}

/** A file of other weights than the decoder's (rnncomp.errors.WrongModelError). */
export class WrongModelError extends BitstreamError {
  constructor(message) {
    super(message);
    this.name = 'WrongModelError';
  }
}

/** A valid file of a kind or coder this web decoder does not decode (rnncomp does). */
export class UnsupportedError extends RnncompError {
  constructor(message) {
    super(message);
    this.name = 'UnsupportedError';
  }
}
