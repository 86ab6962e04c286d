// The demo's static server, on 127.0.0.1 only: `node serve.mjs [--port 8020]` (make web), then open
// http://127.0.0.1:8020/demo/. Serves web/ (the demo, src/, the vectors, the model, onnxruntime-web from
// node_modules). Two query parameters on .rnc files: `iterations=k` cuts the file to its first k chunks (the
// library's truncate, as a server or CDN would), `delay=ms` sends it in pieces of `piece` bytes (default 8) with
// that pause between them, so the page's progressive decoding can be watched on a fast connection.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import { truncate } from './src/bitstream.js';

const ROOT = dirname(fileURLToPath(import.meta.url));
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm', '.onnx': 'application/octet-stream',
  '.rnc': 'application/octet-stream', '.u8': 'application/octet-stream', '.jpg': 'image/jpeg', '.png': 'image/png',
};

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/** Starts the server; resolves to {server, url}. */
export function serve({ port = 8020, host = '127.0.0.1', quiet = false } = {}) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      if (url.pathname === '/') {
        res.writeHead(302, { Location: '/demo/' });
        res.end();
        return;
      }
      let path = normalize(join(ROOT, decodeURIComponent(url.pathname)));
      if (path !== ROOT && !path.startsWith(ROOT + sep)) throw Object.assign(new Error('outside'), { code: 'ENOENT' });
      if ((await stat(path)).isDirectory()) path = join(path, 'index.html');
      let body = await readFile(path);
      const headers = { 'Content-Type': TYPES[extname(path)] || 'application/octet-stream', 'Cache-Control': 'no-store' };
      if (extname(path) === '.rnc') {
        const k = url.searchParams.get('iterations');
        if (k) body = Buffer.from(truncate(new Uint8Array(body), Number(k)));
        const delay = Number(url.searchParams.get('delay') || 0);
        if (delay > 0) {
          const piece = Number(url.searchParams.get('piece') || 8);
          res.writeHead(200, { ...headers, 'Content-Length': body.length });
          for (let at = 0; at < body.length; at += piece) {
            res.write(body.subarray(at, at + piece));
            await sleep(delay);
          }
          res.end();
          return;
        }
      }
      res.writeHead(200, { ...headers, 'Content-Length': body.length });
      res.end(body);
    } catch (e) {
      const missing = e.code === 'ENOENT' || e.code === 'EISDIR';
      res.writeHead(missing ? 404 : 400, { 'Content-Type': 'text/plain' });
      res.end(missing ? 'not found\n' : `${e.message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const url = `http://${host}:${server.address().port}`;
      if (!quiet) console.log(`rnncomp web demo: ${url}/demo/ (Ctrl-C stops)`);
      resolve({ server, url });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  serve({ port: i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT || 8020) }).catch((e) => {
    console.error(`serve.mjs: ${e.message}`);
    process.exit(2);
  });
}
