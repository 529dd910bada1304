import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatorEngine } from './engine.ts';
import { parseSimulatorOptions } from './options.ts';
import { post, postJson } from './testing.ts';

interface Embeddings {
  object: string;
  model: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  usage?: { prompt_tokens: number; total_tokens: number };
}

const engine = new SimulatorEngine(parseSimulatorOptions({ models: { 'bge-m3': {}, 'fixed-embed': { matryoshka: false, dimensions: 16 }, chat: { kind: 'chat' } } }, 'sim'));
const embed = (body: Record<string, unknown>) => postJson<Embeddings>(engine, '/v1/embeddings', { model: 'bge-m3', ...body });
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('one deterministic unit vector per input, in input order', async () => {
  const res = await embed({ input: ['a', 'b', 'c'] });
  assert.equal(res.object, 'list');
  assert.equal(res.model, 'bge-m3');
  assert.deepEqual(res.data.map((d) => [d.object, d.index]), [['embedding', 0], ['embedding', 1], ['embedding', 2]]);
  for (const d of res.data) {
    const v = d.embedding as number[];
    assert.equal(v.length, 1024);
    assert.ok(v.every(Number.isFinite));
    assert.ok(Math.abs(norm(v) - 1) < 1e-5);
  }
  const again = await embed({ input: 'b' });
  assert.deepEqual(again.data[0]!.embedding, res.data[1]!.embedding);
  assert.notDeepEqual(res.data[0]!.embedding, res.data[1]!.embedding);
  assert.deepEqual(res.usage, { prompt_tokens: 3, total_tokens: 3 });
  assert.equal((await embed({ input: [[1, 2], [3]] })).data.length, 2);
});

test('base64 decodes (little-endian float32) to exactly the float vector', async () => {
  const floats = (await embed({ input: 'hello', encoding_format: 'float' })).data[0]!.embedding as number[];
  const b64 = (await embed({ input: 'hello', encoding_format: 'base64' })).data[0]!.embedding as string;
  const buf = Buffer.from(b64, 'base64');
  assert.equal(buf.length, 4 * 1024);
  const decoded = Array.from({ length: 1024 }, (_, i) => buf.readFloatLE(i * 4));
  assert.deepEqual(decoded, floats);
});

test('dimensions truncates and renormalises on matryoshka models, 400 otherwise', async () => {
  const full = (await embed({ input: 'x' })).data[0]!.embedding as number[];
  const short = (await embed({ input: 'x', dimensions: 256 })).data[0]!.embedding as number[];
  assert.equal(short.length, 256);
  assert.ok(Math.abs(norm(short) - 1) < 1e-5);
  // Same direction as the first 256 values of the full vector.
  const scale = short[0]! / full[0]!;
  short.forEach((v, i) => assert.ok(Math.abs(v - full[i]! * scale) < 1e-5));

  const refused = await post(engine, '/v1/embeddings', { model: 'fixed-embed', input: 'x', dimensions: 8 });
  assert.equal(refused.status, 400);
  assert.match(JSON.parse(refused.text).error.message, /matryoshka/);
  assert.equal((await postJson<Embeddings>(engine, '/v1/embeddings', { model: 'fixed-embed', input: 'x' })).data[0]!.embedding.length, 16);
});

test('validation: empty input, bad format, too many dimensions, chat model, unknown model', async () => {
  const cases: [Record<string, unknown>, number][] = [
    [{ input: '' }, 400],
    [{ input: [] }, 400],
    [{ input: ['ok', ''] }, 400],
    [{ input: 'x', encoding_format: 'hex' }, 400],
    [{ input: 'x', dimensions: 2048 }, 400],
    [{ input: 'x', model: 'chat' }, 400],
    [{ input: 'x', model: 'nope' }, 404],
  ];
  for (const [body, status] of cases) {
    const res = await post(engine, '/v1/embeddings', { model: 'bge-m3', ...body });
    assert.equal(res.status, status, JSON.stringify(body));
    const error = JSON.parse(res.text).error;
    assert.equal(error.code, status);
    assert.equal(typeof error.message, 'string');
  }
});
