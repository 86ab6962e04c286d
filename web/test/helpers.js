// Shared by the tests: the committed test vectors (written by python -m rnncomp.tools.webvectors).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = join(dirname(fileURLToPath(import.meta.url)), '..');
export const VECTORS = join(WEB, 'vectors');

export const readJson = (name) => JSON.parse(readFileSync(join(VECTORS, name), 'utf8'));
export const readBytes = (name) => new Uint8Array(readFileSync(join(VECTORS, name)));
export const fromHex = (hex) => Uint8Array.from(hex.match(/../g) || [], (b) => parseInt(b, 16));
export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
