import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countTextTokens } from '../../protocol/tokens.ts';
import { SimulatorEngine } from './engine.ts';
import { post, postJson, sseChunks } from './testing.ts';

interface Completion {
  id: string;
  object: string;
  choices: {
    index: number;
    text: string;
    logprobs: { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[]; text_offset: number[] } | null;
    finish_reason: string;
  }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const engine = new SimulatorEngine();
const complete = (body: Record<string, unknown>) => postJson<Completion>(engine, '/v1/completions', { model: 'sim-chat', ...body });

test('a completion defaults to 16 tokens and counts them exactly', async () => {
  const res = await complete({ prompt: 'Once upon a time' });
  assert.match(res.id, /^cmpl-/);
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0]!.finish_reason, 'length');
  assert.equal(countTextTokens(res.choices[0]!.text), 16);
  assert.deepEqual(res.usage, { prompt_tokens: countTextTokens('Once upon a time'), completion_tokens: 16, total_tokens: countTextTokens('Once upon a time') + 16 });
  assert.ok(res.choices[0]!.text.startsWith(' '), 'the answer continues the prompt');
});

test('P prompts × n samples give P×n choices grouped by prompt', async () => {
  const res = await complete({ prompt: ['a', 'b'], n: 2, max_tokens: 5, seed: 1 });
  assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2, 3]);
  assert.equal(new Set(res.choices.map((c) => c.text)).size, 4);
  assert.equal(res.usage.completion_tokens, 20);
  const ids = await complete({ prompt: [[1, 2, 3], [4, 5]], max_tokens: 2 });
  assert.equal(ids.choices.length, 2);
  assert.equal(ids.usage.prompt_tokens, 5);
});

test('echo prepends the prompt, also a token-id prompt decoded', async () => {
  const res = await complete({ prompt: 'Say hello', echo: true, max_tokens: 3 });
  assert.ok(res.choices[0]!.text.startsWith('Say hello '));
  const ids = await complete({ prompt: [15339, 1917], echo: true, max_tokens: 1 });
  assert.ok(ids.choices[0]!.text.startsWith('hello world'), ids.choices[0]!.text);
});

test('logprobs: k gives four equal-length arrays and up to k+1 alternatives', async () => {
  const res = await complete({ prompt: 'x', logprobs: 2, max_tokens: 6, echo: true });
  const lp = res.choices[0]!.logprobs!;
  assert.equal(lp.tokens.length, 6);
  for (const arr of [lp.token_logprobs, lp.top_logprobs, lp.text_offset]) assert.equal(arr.length, 6);
  assert.equal(lp.tokens.join(''), res.choices[0]!.text.slice(1));
  lp.text_offset.forEach((offset, i) => assert.equal(res.choices[0]!.text.slice(offset, offset + lp.tokens[i]!.length), lp.tokens[i]));
  assert.ok(lp.top_logprobs.every((top) => Object.keys(top).length === 3));
  assert.equal((await complete({ prompt: 'x' })).choices[0]!.logprobs, null);
});

test('stream: text deltas, finish chunk, usage chunk only with include_usage, [DONE]', async () => {
  const res = await post(engine, '/v1/completions', { model: 'm', prompt: 'p', stream: true, max_tokens: 4, echo: true, stream_options: { include_usage: true } });
  const chunks = sseChunks(res.text);
  assert.ok(chunks.every((c) => c.object === 'text_completion' && c.id === chunks[0]!.id));
  assert.equal(chunks[0]!.choices[0]!.text, 'p');
  assert.equal(chunks.slice(1, 5).map((c) => c.choices[0]!.text).join('').split(' ').length, 5);
  assert.equal(chunks[5]!.choices[0]!.finish_reason, 'length');
  assert.deepEqual(chunks[6]!.choices, []);
  assert.deepEqual(chunks[6]!.usage, { prompt_tokens: 1, completion_tokens: 4, total_tokens: 5 });
  assert.ok(chunks.slice(0, 6).every((c) => c.usage === null));
});

test('vLLM validation: best_of with stream, best_of < n, bad prompt', async () => {
  for (const body of [{ prompt: 'x', best_of: 2, stream: true }, { prompt: 'x', best_of: 1, n: 2 }, { prompt: [] }, { prompt: 3 }, {}]) {
    const res = await post(engine, '/v1/completions', { model: 'm', ...body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(JSON.parse(res.text).error.code, 400);
  }
});
