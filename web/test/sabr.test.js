// Spatially adaptive (SABR, format version 3) files against vectors/sabr.json: the iteration map, the masked chunks
// (zeros for the blocks not sent) and every prefix give rnncomp's codes; hostile version-3 files rnncomp's errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parse, truncate, ChunkReader } from '../src/bitstream.js';
import { readCodes, codeDecoder } from '../src/codes.js';
import { packRaw } from '../src/entropy/raw.js';
import { RnncompError, UnsupportedError } from '../src/errors.js';
import { readJson, readBytes, fromHex, toHex } from './helpers.js';

const { priors, cases, hostile } = readJson('sabr.json');
const codesOf = (f, prior) => readCodes(f, prior ? priors[prior] : null).map((b) => toHex(packRaw(b)));

test('sabr.json: header fields, the iteration map, chunk sizes and the codes of every iteration', () => {
  assert.deepEqual(new Set(cases.map((c) => c.map_coder)), new Set(['raw', 'huffman', 'arithmetic', 'predictive']));
  assert.deepEqual(new Set(cases.map((c) => c.coder)), new Set(['raw', 'huffman', 'context', 'prior']));
  for (const c of cases) {
    const f = parse(readBytes(c.file));
    const h = f.header;
    assert.equal(f.data[2], 3, c.name);
    assert.ok(h.adaptive, c.name);
    assert.deepEqual([h.height, h.width, h.stride, h.bits, h.iterations, h.coder, h.modelName, h.sabrTile],
      [c.height, c.width, c.stride, c.bits, c.iterations, c.coder, c.model, c.sabr_tile], c.name);
    assert.equal(toHex(h.fingerprint), c.fingerprint, c.name);
    assert.equal(f.headerBytes, c.header_bytes, c.name);
    assert.deepEqual(Array.from(h.iterationMap), c.iteration_map.flat(), c.name);
    assert.deepEqual(h.mapGrid, [c.iteration_map.length, c.iteration_map[0].length], c.name);
    const active = c.active_blocks.map((_, t) => h.active(t + 1).reduce((a, b) => a + b, 0));
    assert.deepEqual(active, c.active_blocks, c.name);
    assert.deepEqual(f.payloads.map((p) => p.length), c.payload_bytes, c.name);
    assert.deepEqual(f.payloads.map((p, t) => p.length === h.chunkRawSize(t + 1)), c.stored_raw, c.name);
    assert.deepEqual(codesOf(f, c.prior), c.codes, c.name);
  }
});

test('the blocks not sent in an iteration read as zero codes, the others as the file sends them', () => {
  for (const c of cases) {
    const f = parse(readBytes(c.file));
    const step = codeDecoder(f.header, c.prior ? priors[c.prior] : null);
    f.payloads.forEach((p, t) => {
      const bits = step(p);
      const active = f.header.active(t + 1);
      for (let i = 0; i < active.length; i++) {
        if (!active[i]) assert.ok(bits.subarray(i * c.bits, (i + 1) * c.bits).every((b) => b === 0), c.name);
      }
    });
  }
});

test('a prefix: rnncomp\'s truncated files, the first j chunks of a file and a cut file give the first j codes', () => {
  for (const c of cases) {
    const data = readBytes(c.file);
    for (let j = 1; j < c.iterations; j++) {
      if (c.truncated) { // rnncomp.bitstream.truncate(data, j): k and the map min(m, j) rewritten
        const cut = fromHex(c.truncated[j - 1]);
        assert.equal(cut.length, c.truncated_bytes[j - 1], c.name);
        const g = parse(cut);
        assert.equal(g.header.iterations, j);
        assert.deepEqual(Array.from(g.header.iterationMap), c.iteration_map.flat().map((m) => Math.min(m, j)));
        assert.deepEqual(codesOf(g, c.prior), c.codes.slice(0, j), `${c.name} truncated to ${j}`);
      }
      assert.deepEqual(codesOf(parse(data, { iterations: j }), c.prior), c.codes.slice(0, j), `${c.name} j=${j}`);
    }
    // cut anywhere: with partial, its complete chunks
    const middle = c.header_bytes + Math.floor((data.length - c.header_bytes) / 2);
    for (const n of [c.header_bytes + 1, middle, data.length - 1]) {
      let got;
      try {
        got = codesOf(parse(data.subarray(0, n), { partial: true }), c.prior);
      } catch (e) {
        assert.match(e.message, /not even the first iteration/, c.name);
        continue;
      }
      assert.ok(got.length < c.iterations, c.name);
      assert.deepEqual(got, c.codes.slice(0, got.length), `${c.name} cut at ${n}`);
    }
    assert.deepEqual(truncate(data, c.iterations), data);
    if (c.iterations > 1) assert.throws(() => truncate(data, 1), UnsupportedError);
  }
});

test('an adaptive file read as its bytes arrive gives the same codes', () => {
  for (const c of cases) {
    const data = readBytes(c.file);
    for (const piece of [1, 7, 1000]) {
      const reader = new ChunkReader();
      let decode = null;
      const codes = [];
      const take = (payloads) => {
        if (!decode && reader.header) decode = codeDecoder(reader.header, c.prior ? priors[c.prior] : null);
        for (const p of payloads) codes.push(toHex(packRaw(decode(p))));
      };
      for (let at = 0; at < data.length; at += piece) take(reader.push(data.subarray(at, at + piece)));
      take(reader.end());
      assert.deepEqual(codes, c.codes, `${c.name} piece ${piece}`);
    }
  }
});

const groups = [...new Set(hostile.map((c) => c.group))];

for (const group of groups) {
  const mine = hostile.filter((c) => c.group === group);
  test(`${group}: ${mine.length} version-3 files, rnncomp's outcome for each`, () => {
    for (const c of mine) {
      const t0 = process.cpuUsage();
      let got;
      try {
        const f = parse(fromHex(c.hex), { partial: c.partial });
        got = { codes: readCodes(f, c.prior ? priors[c.prior] : null).map((b) => toHex(packRaw(b))) };
      } catch (e) {
        if (!(e instanceof RnncompError)) throw e; // a crash, not a refusal
        got = { error: e.message };
      }
      const { user, system } = process.cpuUsage(t0);
      assert.ok((user + system) / 1000 < 2000, `${group}: slow`);
      if (c.error !== undefined) assert.equal(got.error, c.error, `${group} ${c.hex.slice(0, 60)}`);
      else assert.deepEqual(got.codes, c.codes, `${group} ${c.hex.slice(0, 60)}`);
    }
  });
}

test('the hostile version-3 vectors cover maps over the file, maps of the wrong size and cut files', () => {
  for (const g of ['sabr-map', 'sabr-map-size', 'sabr-map-payload', 'sabr-header', 'sabr-header-cut',
    'sabr-truncation-context', 'sabr-truncation-partial-raw', 'sabr-bitflip-context', 'sabr-trailing-huffman']) {
    assert.ok(groups.includes(g), g);
  }
  assert.ok(hostile.some((c) => /a tile asks for 4 iterations, the file holds 3/.test(c.error)));
  assert.ok(hostile.some((c) => /corrupt iteration map: corrupt compact image: raw payload/.test(c.error)));
});
