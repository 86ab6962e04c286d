// The container and the entropy decoders against the committed vectors: identical codes for every file and coder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse, truncate, ChunkReader } from '../src/bitstream.js';
import { readCodes, codeDecoder } from '../src/codes.js';
import { packRaw } from '../src/entropy/raw.js';
import { UnsupportedError } from '../src/errors.js';
import { WEB, readJson, readBytes, toHex } from './helpers.js';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

for (const file of ['coders.json', 'model.json']) {
  const { cases } = readJson(file);
  test(`${file}: header fields, chunk sizes and the codes of every iteration`, () => {
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const f = parse(readBytes(c.file));
      const h = f.header;
      assert.deepEqual([h.height, h.width, h.stride, h.bits, h.iterations, h.coder, h.modelName],
        [c.height, c.width, c.stride, c.bits, c.iterations, c.coder, c.model], c.name);
      assert.equal(toHex(h.fingerprint), c.fingerprint, c.name);
      assert.equal(f.headerBytes, c.header_bytes, c.name);
      assert.deepEqual(h.codeShape, c.code_shape, c.name);
      assert.deepEqual(f.payloads.map((p) => p.length), c.payload_bytes, c.name);
      assert.deepEqual(f.payloads.map((p) => p.length === h.rawChunkSize), c.stored_raw, c.name);
      const codes = readCodes(f, c.prior || null).map((b) => toHex(packRaw(b)));
      assert.deepEqual(codes, c.codes, c.name);
    }
  });

  test(`${file}: truncate(file, j) is rnncomp's truncate byte for byte`, () => {
    for (const c of cases) {
      const data = readBytes(c.file);
      for (let j = 1; j <= c.iterations; j++) {
        const cut = truncate(data, j);
        assert.equal(cut.length, c.truncated_bytes[j - 1], `${c.name} j=${j}`);
        assert.equal(sha256(cut), c.truncated_sha256[j - 1], `${c.name} j=${j}`);
      }
    }
  });
}

test('a file read as its bytes arrive gives each chunk once its check is in, and the same codes', () => {
  const { cases } = readJson('coders.json');
  for (const c of cases) {
    const data = readBytes(c.file);
    for (const piece of [1, 3, 17, 1000]) {
      const reader = new ChunkReader();
      const step = codeDecoder;
      let decode = null;
      const codes = [];
      const take = (payloads) => {
        if (!decode && reader.header) decode = step(reader.header, c.prior || null);
        for (const p of payloads) codes.push(toHex(packRaw(decode(p))));
      };
      for (let at = 0; at < data.length; at += piece) {
        take(reader.push(data.subarray(at, at + piece)));
        // a chunk is out as soon as its bytes are: never later than the end of the next chunk's bytes
        const complete = c.truncated_bytes.filter((n) => n - 2 <= at + piece).length;
        assert.ok(codes.length >= Math.min(complete - 1, c.iterations - 1), `${c.name} piece ${piece} at ${at}`);
      }
      take(reader.end());
      assert.deepEqual(codes, c.codes, `${c.name} piece ${piece}`);
    }
  }
});

test('a learned file (version 2): its header is read, truncate keeps version 2, its coder is refused by name', () => {
  // rnncomp's committed learned file of a bundled thumbnail (tests/fixtures/learned, written by rnncomp-default)
  const data = new Uint8Array(readFileSync(join(WEB, '..', 'tests', 'fixtures', 'learned', 'thumb0.rnc')));
  const f = parse(data);
  assert.equal(f.header.coder, 'learned');
  assert.equal(f.header.coderId, 4);
  assert.deepEqual(truncate(data, f.header.iterations), data);
  for (let j = 1; j < f.header.iterations; j += 1) {
    const cut = truncate(data, j);
    assert.equal(cut[2], 2);
    assert.equal(cut[3], data[3]);
    const g = parse(cut);
    assert.equal(g.header.iterations, j);
    assert.deepEqual(g.payloads, f.payloads.slice(0, j));
  }
  assert.throws(() => readCodes(f), (e) => e instanceof UnsupportedError && /'learned'/.test(e.message));
});
