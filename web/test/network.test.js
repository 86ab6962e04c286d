// The exported decoder network under onnxruntime-web (wasm, in Node): the pixels of every iteration of every
// model vector within 1 level of rnncomp decompress; progressive output as the bytes arrive; refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-web';

import {
  RncDecoder, truncate, parse, serialize, WrongModelError, UnsupportedError,
} from '../src/index.js';
import { WEB, readJson, readBytes } from './helpers.js';

ort.env.wasm.numThreads = 1;
const manifest = JSON.parse(readFileSync(join(WEB, 'model', 'manifest.json'), 'utf8'));
const decoder = await RncDecoder.create({ ort, model: readFileSync(join(WEB, 'model', 'decoder.onnx')), manifest });
const { cases, tolerance } = readJson('model.json');

function maxDifference(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('every iteration of every bundled thumbnail, every coder: pixels within 1 level of rnncomp decompress', async () => {
  let worst = 0;
  let exact = 0;
  let total = 0;
  for (const c of cases) {
    const expected = readBytes(c.pixels);
    const size = c.height * c.width * 3;
    const images = await decoder.decodeAll(readBytes(c.file));
    assert.equal(images.length, c.iterations, c.name);
    images.forEach((img, t) => {
      const d = maxDifference(img, expected.subarray(t * size, (t + 1) * size));
      worst = Math.max(worst, d);
      exact += d === 0;
      total += 1;
      assert.ok(d <= tolerance, `${c.name} iteration ${t + 1}: ${d} levels`);
    });
  }
  console.log(`# ${total} images of ${cases.length} files: largest difference ${worst} level(s), ${exact} identical`);
});

test('adaptive (SABR) files: zero codes for the tiles not sent; every iteration within 1 level of rnncomp', async () => {
  const sabr = readJson('sabr.json').model;
  assert.ok(sabr.cases.length > 0);
  let worst = 0;
  for (const c of sabr.cases) {
    const expected = readBytes(c.pixels);
    const size = c.height * c.width * 3;
    const data = readBytes(c.file);
    const images = await decoder.decodeAll(data);
    assert.equal(images.length, c.iterations, c.name);
    images.forEach((img, t) => {
      const d = maxDifference(img, expected.subarray(t * size, (t + 1) * size));
      worst = Math.max(worst, d);
      assert.ok(d <= sabr.tolerance, `${c.name} iteration ${t + 1}: ${d} levels`);
    });
    // the first j chunks (a progressive page stopping early) give the first j images
    const j = Math.max(1, c.iterations >> 1);
    const first = await decoder.decodeAll(data, { iterations: j });
    assert.equal(first.length, j);
    assert.ok(maxDifference(first[j - 1], expected.subarray((j - 1) * size, j * size)) <= sabr.tolerance, c.name);
  }
  console.log(`# ${sabr.cases.length} adaptive files: largest difference ${worst} level(s)`);
});

test('a file cut to k iterations decodes to the first k images', async () => {
  const c = cases[0];
  const expected = readBytes(c.pixels);
  const size = c.height * c.width * 3;
  for (const k of [1, 2, 4]) {
    const images = await decoder.decodeAll(truncate(readBytes(c.file), k));
    assert.equal(images.length, k);
    assert.ok(maxDifference(images[k - 1], expected.subarray((k - 1) * size, k * size)) <= tolerance);
  }
});

test('from a stream: an image after every chunk, as soon as its bytes are in', async () => {
  const c = cases.find((x) => x.coder === 'context') || cases[0];
  const data = readBytes(c.file);
  let sent = 0;
  const seen = [];
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= data.length) {
        controller.close();
        return;
      }
      controller.enqueue(data.slice(sent, sent + 5));
      sent += 5;
    },
  }, { highWaterMark: 0 });
  await decoder.decodeStream(stream, { onImage: (r) => seen.push([r.iteration, sent]) });
  assert.equal(seen.length, c.iterations);
  // chunk t (t < k) is out before the stream has sent the bytes of chunk t + 1 and the rest
  for (let t = 1; t < c.iterations; t++) {
    assert.ok(seen[t - 1][1] <= c.truncated_bytes[t - 1] + 5, `iteration ${t} at ${seen[t - 1][1]} bytes`);
  }
});

test('a file of other weights, another size or a coder it lacks is refused with a clear error', async () => {
  const other = readJson('coders.json').cases.find((x) => x.name === 'raw-thumb');
  await assert.rejects(decoder.decodeAll(readBytes(other.file)), WrongModelError);
  const big = readJson('coders.json').cases.find((x) => x.name === 'context-37x53');
  await assert.rejects(decoder.decodeAll(readBytes(big.file)), /fingerprint 12345678/);
  // the default model's file with a prior-coded header: no prior is shipped for it
  const f = parse(readBytes(cases[0].file));
  const prior = serialize(Object.assign(Object.create(Object.getPrototypeOf(f.header)), f.header,
    { coder: 'prior', coderId: 3 }), f.payloads);
  await assert.rejects(decoder.decodeAll(prior), /'prior' entropy coder needs the model's context prior/);
  await assert.rejects(decoder.decodeAll(new Uint8Array([0x52, 0x4e, 1, 0x13, 0, 0, 0, 0, 2, 8, 3, 32, 32, 0, 0, 0])),
    /end-to-end|check/);
  assert.ok(UnsupportedError);
  // the page's example of a file it does not decode: rnncomp's own refusal, word for word
  for (const u of readJson('model.json').unsupported) {
    await assert.rejects(decoder.decodeAll(readBytes(u.file)), (e) => e.message === u.rnncomp.error);
  }
});
