// Every damaged and hostile file of the Python tests (tests/test_bitstream.py, tests/test_fuzz.py), as
// vectors/hostile.json holds them with rnncomp's outcome: where rnncomp refuses a file, this decoder refuses it
// with the same message, quickly; where rnncomp reads it, the same codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parse, singleKind } from '../src/bitstream.js';
import { readCodes } from '../src/codes.js';
import { RnncompError, UnsupportedError } from '../src/errors.js';
import { packRaw } from '../src/entropy/raw.js';
import { readJson, fromHex, toHex } from './helpers.js';

const { priors, cases } = readJson('hostile.json');

/** {codes} or {error} of this decoder, as webvectors.outcome records rnncomp's. */
function outcome(c) {
  try {
    const f = parse(fromHex(c.hex), { partial: c.partial });
    const codes = readCodes(f, c.prior ? priors[c.prior] : null).map((b) => toHex(packRaw(b)));
    return { codes, tiled: Boolean(f.header.tile) };
  } catch (e) {
    if (!(e instanceof RnncompError)) throw e; // a crash, not a refusal
    return { error: e.message, unsupported: e instanceof UnsupportedError };
  }
}

const groups = [...new Set(cases.map((c) => c.group))];

for (const group of groups) {
  const mine = cases.filter((c) => c.group === group);
  test(`${group}: ${mine.length} files, rnncomp's outcome for each`, () => {
    for (const c of mine) {
      // CPU time, not wall time: the bound is on the work a file can ask for, on a machine that may be busy
      const t0 = process.cpuUsage();
      const got = outcome(c);
      const { user, system } = process.cpuUsage(t0);
      const ms = (user + system) / 1000;
      assert.ok(ms < 2000, `${group} ${c.hex.slice(0, 40)}: ${ms.toFixed(0)} ms of CPU`);
      if (got.unsupported) {
        // an end-to-end or latent file whose header and check pass: rnncomp decodes its payload (and refuses it
        // if that is damaged); this decoder refuses it, saying what it is
        const data = fromHex(c.hex);
        assert.ok(singleKind(data) && /end-to-end|hyperprior/.test(got.error), `${group}: ${got.error}`);
        assert.ok(c.kind || c.error, group);
      } else if (c.error !== undefined) {
        assert.equal(got.error, c.error, `${group} ${c.hex.slice(0, 60)}`);
      } else {
        assert.deepEqual(got.codes, c.codes, `${group} ${c.hex.slice(0, 60)}`);
      }
    }
  });
}

test('the hostile vectors cover every group of the Python tests', () => {
  for (const g of ['not-rnc', 'declared-sizes', 'too-short', 'non-minimal', 'trailing', 'huffman',
    'truncation-context', 'truncation-partial-raw', 'bitflip-prior', 'corruption-huffman', 'garbage',
    'garbage-after-header', 'declared-sizes-random', 'fuzz-binary']) {
    assert.ok(groups.includes(g), g);
  }
  assert.ok(cases.filter((c) => c.error !== undefined).length > 1400);
});
