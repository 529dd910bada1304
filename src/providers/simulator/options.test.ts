import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SIMULATOR_OPTIONS, modelNames, parseSimulatorOptions, resolveModel } from './options.ts';

test('an empty block gives the defaults', () => {
  assert.deepEqual(parseSimulatorOptions({}, 'providers.sim'), DEFAULT_SIMULATOR_OPTIONS);
  assert.deepEqual(parseSimulatorOptions(undefined, 'providers.sim'), DEFAULT_SIMULATOR_OPTIONS);
  assert.equal(DEFAULT_SIMULATOR_OPTIONS.embedding_dimensions, 1024);
  assert.equal(DEFAULT_SIMULATOR_OPTIONS.usage, true);
  assert.equal(DEFAULT_SIMULATOR_OPTIONS.reasoning_field, 'reasoning_content');
});

test('values are parsed and frozen', () => {
  const options = parseSimulatorOptions(
    { ttft_ms: 20, tokens_per_second: 200, max_concurrency: 4, output_tokens: 10, usage: false, reasoning_field: 'reasoning', models: { a: { kind: 'chat' } } },
    'providers.sim',
  );
  assert.equal(options.ttft_ms, 20);
  assert.equal(options.tokens_per_second, 200);
  assert.equal(options.max_concurrency, 4);
  assert.equal(options.output_tokens, 10);
  assert.equal(options.usage, false);
  assert.equal(options.reasoning_field, 'reasoning');
  assert.ok(Object.isFrozen(options));
});

test('a bad value names the full field path', () => {
  const cases: [unknown, RegExp][] = [
    [{ ttft_ms: -1 }, /^providers\.sim\.ttft_ms must be a non-negative number$/],
    [{ ttft_ms: '5' }, /^providers\.sim\.ttft_ms must be a non-negative number$/],
    [{ max_concurrency: 1.5 }, /^providers\.sim\.max_concurrency must be a non-negative integer$/],
    [{ embedding_dimensions: 0 }, /^providers\.sim\.embedding_dimensions must be a positive integer$/],
    [{ usage: 'no' }, /^providers\.sim\.usage must be true or false$/],
    [{ reasoning_field: 'thoughts' }, /^providers\.sim\.reasoning_field must be one of 'reasoning_content', 'reasoning'$/],
    [{ ttft: 5 }, /^providers\.sim\.ttft is not a simulator option/],
    [{ models: { m: { kind: 'image' } } }, /^providers\.sim\.models\.m\.kind must be one of/],
    [{ models: { m: { dims: 3 } } }, /^providers\.sim\.models\.m\.dims is not a simulator model field/],
    [{ models: {} }, /^providers\.sim\.models must list at least one model$/],
    ['fast', /^providers\.sim must be an object$/],
  ];
  for (const [raw, message] of cases) assert.throws(() => parseSimulatorOptions(raw, 'providers.sim'), { message }, JSON.stringify(raw));
});

test('unlisted models are inferred from their name', () => {
  const o = DEFAULT_SIMULATOR_OPTIONS;
  assert.deepEqual(resolveModel(o, 'bge-m3'), { kind: 'embedding', reasoning: false, dimensions: 1024, matryoshka: true });
  assert.equal(resolveModel(o, 'text-embedding-3-small')?.kind, 'embedding');
  assert.equal(resolveModel(o, 'm3e-base')?.kind, 'embedding');
  for (const name of ['DeepSeek-R1', 'QwQ-32B', 'my-reasoner', 'qwen3-thinking']) {
    assert.deepEqual([resolveModel(o, name)?.kind, resolveModel(o, name)?.reasoning], ['chat', true], name);
  }
  assert.deepEqual([resolveModel(o, 'Qwen2-72B')?.kind, resolveModel(o, 'Qwen2-72B')?.reasoning], ['chat', false]);
});

test('a models map lists exactly the models that exist, and overrides inference', () => {
  const o = parseSimulatorOptions({ models: { 'plain-r1': { reasoning: false }, vec: { kind: 'embedding', dimensions: 8, matryoshka: false }, inferred: null } }, 'p');
  assert.equal(resolveModel(o, 'plain-r1')?.reasoning, false);
  assert.deepEqual(resolveModel(o, 'vec'), { kind: 'embedding', reasoning: false, dimensions: 8, matryoshka: false });
  assert.equal(resolveModel(o, 'inferred')?.kind, 'chat');
  assert.equal(resolveModel(o, 'other'), undefined);
  assert.equal(resolveModel(o, 'constructor'), undefined);
  assert.deepEqual(modelNames(o), ['plain-r1', 'vec', 'inferred']);
});
