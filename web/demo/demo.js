// The demo page: a grid of thumbnails, each decoded progressively from a fetch stream, beside JPEG at the same
// byte count. window.rnncompDemo: {ready, run(k), results} for the headless-browser test and the timings.
import * as ort from '/node_modules/onnxruntime-web/dist/ort.wasm.min.mjs';
import { RncDecoder } from '/src/index.js';

ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';

const $ = (id) => document.getElementById(id);
const state = { decoder: null, cases: [], results: [], run: 0 };

async function load() {
  const [manifest, model, vectors] = await Promise.all([
    fetch('/model/manifest.json').then((r) => r.json()),
    fetch('/model/decoder.onnx').then((r) => r.arrayBuffer()),
    fetch('/vectors/model.json').then((r) => r.json()),
  ]);
  state.decoder = await RncDecoder.create({ ort, model: new Uint8Array(model), manifest });
  state.cases = vectors.cases.filter((c) => c.entropy === 'auto');
  state.others = vectors.unsupported || [];
}

/** The files this page does not decode: each fetched and refused, with the decoder's message shown. */
async function showOthers() {
  const box = $('others');
  box.replaceChildren();
  return Promise.all(state.others.map(async (c) => {
    const div = document.createElement('div');
    div.className = 'cell';
    div.innerHTML = `<div class="name">${c.name} (${c.bytes} B: ${c.why})</div><div class="error">decoding...</div>`;
    box.append(div);
    let message = 'decoded (unexpectedly)';
    try {
      await state.decoder.decodeStream((await fetch(`/vectors/${c.file}`)).body);
    } catch (e) {
      message = `not decoded: ${e.name}: ${e.message}`;
    }
    div.querySelector('.error').textContent = message;
    return { name: c.name, message };
  }));
}

function cell(c) {
  const div = document.createElement('div');
  div.className = 'cell';
  div.innerHTML = `<div class="name">${c.name} (${c.source})</div><div class="pair">
    <figure><canvas width="${c.width}" height="${c.height}" data-name="${c.name}"></canvas>
      <figcaption class="rnc">waiting</figcaption></figure>
    <figure class="jpeg"></figure></div><div class="error"></div>`;
  return div;
}

function showJpeg(fig, c, k) {
  const j = c.jpeg[k - 1];
  fig.innerHTML = j ? `<img src="/vectors/${j.file}" alt="JPEG q${j.quality}"><figcaption>JPEG q${j.quality}:
    ${j.scan_bytes} B scan (+${j.file_bytes - j.scan_bytes} B header)</figcaption>`
    : `<div class="none">no JPEG scan fits in ${c.truncated_bytes[k - 1]} B</div><figcaption>JPEG</figcaption>`;
}

/** Decodes every thumbnail cut to k iterations; resolves to one result per thumbnail. */
async function run(k, { slow = false } = {}) {
  const id = ++state.run;
  const grid = $('grid');
  grid.replaceChildren();
  $('status').textContent = `decoding ${state.cases.length} thumbnails at ${k} iteration(s)...`;
  const strip = $('strip');
  strip.replaceChildren();
  for (let t = 1; t <= k; t++) {
    const cv = document.createElement('canvas');
    cv.width = state.cases[0].width;
    cv.height = state.cases[0].height;
    cv.title = `iteration ${t}`;
    strip.append(cv);
  }
  const t0 = performance.now();
  const results = await Promise.all(state.cases.map(async (c, n) => {
    const div = cell(c);
    grid.append(div);
    showJpeg(div.querySelector('.jpeg'), c, k);
    const canvas = div.querySelector('canvas');
    const caption = div.querySelector('.rnc');
    const ctx = canvas.getContext('2d');
    const rgba = ctx.createImageData(c.width, c.height);
    const result = { name: c.name, iterations: 0, bytes: 0, ms: 0, error: null };
    try {
      const response = await fetch(`/vectors/${c.file}?iterations=${k}${slow ? '&delay=40' : ''}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      await state.decoder.decodeStream(response.body, {
        onImage: (r) => {
          if (id !== state.run) return;
          for (let i = 0, j = 0; i < r.pixels.length; i += 3, j += 4) {
            rgba.data[j] = r.pixels[i];
            rgba.data[j + 1] = r.pixels[i + 1];
            rgba.data[j + 2] = r.pixels[i + 2];
            rgba.data[j + 3] = 255;
          }
          ctx.putImageData(rgba, 0, 0);
          if (n === 0) strip.children[r.iteration - 1].getContext('2d').putImageData(rgba, 0, 0);
          Object.assign(result, { iterations: r.iteration, bytes: r.bytes, ms: r.ms });
          caption.textContent = `rnc: ${r.iteration} it., ${r.bytes} B, ${r.ms.toFixed(1)} ms`;
        },
      });
    } catch (e) {
      result.error = `${e.name}: ${e.message}`;
      div.querySelector('.error').textContent = result.error;
      caption.textContent = 'not decoded';
    }
    return result;
  }));
  if (id === state.run) {
    const ok = results.filter((r) => !r.error);
    const ms = ok.reduce((s, r) => s + r.ms, 0);
    $('status').textContent = `${ok.length} of ${results.length} thumbnails decoded at ${k} iteration(s) in `
      + `${(performance.now() - t0).toFixed(0)} ms wall, ${ok.reduce((s, r) => s + r.bytes, 0)} bytes; `
      + `${(ms / Math.max(1, ok.length)).toFixed(1)} ms per thumbnail from its first chunk to its last image `
      + `(all ${ok.length} decode at once on one thread; timings of one at a time: make web-bench)`;
    state.results = results;
  }
  return results;
}

/** Decode time per thumbnail at each of `ks` iterations: the median over `repeat` runs of every thumbnail. */
async function bench(ks = [2, 4, 8], repeat = 5) {
  const files = await Promise.all(state.cases.map((c) => fetch(`/vectors/${c.file}`)
    .then((r) => r.arrayBuffer()).then((b) => new Uint8Array(b))));
  const { truncate } = await import('/src/index.js');
  await state.decoder.decodeAll(files[0]); // warm up
  const out = {};
  for (const k of ks) {
    const times = [];
    for (let r = 0; r < repeat; r++) {
      for (const data of files) {
        const cut = truncate(data, k);
        const t0 = performance.now();
        await state.decoder.decodeAll(cut);
        times.push(performance.now() - t0);
      }
    }
    times.sort((a, b) => a - b);
    out[k] = { median_ms: times[Math.floor(times.length / 2)], min_ms: times[0], runs: times.length };
  }
  return out;
}

window.rnncompDemo = {
  ready: load().then(async () => {
    $('status').textContent = 'decoder ready';
    await run(Number($('k').value));
    state.othersShown = await showOthers();
  }).catch((e) => {
    $('status').textContent = `the decoder failed to load: ${e.message}`;
    throw e;
  }),
  run,
  bench,
  get results() { return state.results; },
  get others() { return state.othersShown; },
};

$('k').addEventListener('input', () => { $('k-out').value = $('k').value; });
$('k').addEventListener('change', () => run(Number($('k').value), { slow: $('slow').checked }));
$('reload').addEventListener('click', () => run(Number($('k').value), { slow: $('slow').checked }));
