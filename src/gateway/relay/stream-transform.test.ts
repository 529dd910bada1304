import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSE_DONE } from '../../protocol/sse/writer.ts';
import type { ResponseContext } from './response-context.ts';
import { StreamAbortedByUpstream, StreamTransformer } from './stream-transform.ts';

const ctx = (over: Partial<ResponseContext> = {}): ResponseContext => ({
  endpoint: 'chat',
  publicModel: 'Public',
  request: { model: 'Public', messages: [{ role: 'user', content: 'hello' }] },
  includeUsage: false,
  wantsBase64: false,
  upstreamModel: 'upstream-name',
  usageHint: { reportsStreamUsage: false },
  ...over,
});

const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'Public', choices, ...extra });

function payloads(sse: string): unknown[] {
  return sse
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) => (e === 'data: [DONE]' ? '[DONE]' : JSON.parse(e.slice('data: '.length))));
}

test('passes an unchanged event through byte for byte', () => {
  const t = new StreamTransformer(ctx());
  const first = chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  assert.equal(t.event(first), `data: ${first}\n\n`);
  const data = chunk([{ index: 0, delta: { content: 'hi' }, finish_reason: null }]);
  assert.equal(t.event(data), `data: ${data}\n\n`);
});

test("gives each choice's first delta the role when the upstream left it out, and only the first", () => {
  const t = new StreamTransformer(ctx());
  const first = payloads(t.event(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }, { index: 1, delta: { role: 'assistant', content: 'b' }, finish_reason: null }])));
  assert.deepEqual((first[0] as { choices: Array<{ delta: unknown }> }).choices.map((c) => c.delta), [{ content: 'a', role: 'assistant' }, { role: 'assistant', content: 'b' }]);
  const later = chunk([{ index: 0, delta: { content: 'c' }, finish_reason: null }, { index: 2, delta: { content: 'd' }, finish_reason: null }]);
  const out = payloads(t.event(later)) as Array<{ choices: Array<{ delta: { role?: string } }> }>;
  assert.equal(out[0]!.choices[0]!.delta.role, undefined);
  assert.equal(out[0]!.choices[1]!.delta.role, 'assistant', 'index 2 appears here for the first time');
});

test('with n > 1, events go unparsed only once every choice has been seen (and given its role)', () => {
  const t = new StreamTransformer(ctx({ usageHint: { reportsStreamUsage: true }, request: { model: 'Public', messages: [], n: 2 } }));
  t.event(chunk([{ index: 0, delta: { content: 'a' }, finish_reason: null }]));
  const second = payloads(t.event(chunk([{ index: 1, delta: { content: 'b' }, finish_reason: null }]))) as Array<{ choices: Array<{ delta: { role?: string } }> }>;
  assert.equal(second[0]!.choices[0]!.delta.role, 'assistant');
  const later = chunk([{ index: 1, delta: { content: 'c' }, finish_reason: null }]);
  assert.equal(t.event(later), `data: ${later}\n\n`, 'now the shortcut may pass it as is');
});

test('a stream that reaches [DONE] without finishing a choice gets a finish chunk for it, before the usage chunk', () => {
  const t = new StreamTransformer(ctx({ includeUsage: true }));
  t.event(chunk([{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null }, { index: 1, delta: { role: 'assistant', content: 'b' }, finish_reason: null }]));
  t.event(chunk([{ index: 1, delta: {}, finish_reason: 'length' }]));
  t.event(chunk([], { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }));
  assert.equal(t.event('[DONE]'), '');
  assert.ok(t.complete);
  const tail = payloads(t.finish()) as Array<{ id: string; model: string; choices: unknown[]; usage: unknown }>;
  assert.equal(tail.length, 3);
  assert.deepEqual(tail[0]!.choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
  assert.equal(tail[0]!.usage, null);
  assert.equal(tail[0]!.id, 'c1');
  assert.equal(tail[0]!.model, 'Public');
  assert.deepEqual(tail[1]!.choices, []);
  assert.equal(tail[2], '[DONE]');

  const finished = new StreamTransformer(ctx());
  finished.event(chunk([{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: 'stop' }]));
  finished.event('[DONE]');
  assert.equal(finished.finish(), SSE_DONE, 'nothing to repair');
});

test('completions streams get the finish repair in their own shape, and no role', () => {
  const t = new StreamTransformer(ctx({ endpoint: 'completions', request: { model: 'Public', prompt: 'x' } }));
  const data = JSON.stringify({ id: 'c1', object: 'text_completion', created: 1, model: 'Public', choices: [{ index: 0, text: 'a', logprobs: null, finish_reason: null }] });
  assert.equal(t.event(data), `data: ${data}\n\n`);
  t.event('[DONE]');
  const tail = payloads(t.finish()) as Array<{ object: string; choices: unknown[] }>;
  assert.deepEqual(tail[0], { id: 'c1', object: 'text_completion', created: 1, model: 'Public', choices: [{ index: 0, text: '', logprobs: null, finish_reason: 'stop' }] });
  assert.equal(tail[1], '[DONE]');
});

test('rewrites the upstream model name to the public one', () => {
  const t = new StreamTransformer(ctx());
  const out = payloads(t.event(chunk([{ index: 0, delta: { content: 'x' }, finish_reason: null }], { model: 'upstream-name' })));
  assert.equal((out[0] as { model: string }).model, 'Public');
});

test('drops the usage chunk when the client did not ask, but keeps the usage for billing', () => {
  const t = new StreamTransformer(ctx());
  assert.equal(t.event(chunk([], { usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } })), '');
  t.event('[DONE]');
  assert.equal(t.finish(), SSE_DONE);
  assert.equal(t.usage().promptTokens, 5);
  assert.equal(t.usage().completionTokens, 7);
  assert.equal(t.usage().reported, true);
});

test('emits one trailing usage chunk when asked, with usage:null on the chunks before it', () => {
  const t = new StreamTransformer(ctx({ includeUsage: true }));
  const first = payloads(t.event(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }])))[0] as Record<string, unknown>;
  assert.equal(first.usage, null);
  // DeepSeek-style: usage attached to the finish chunk.
  const fin = payloads(t.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }], { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } })));
  assert.equal((fin[0] as Record<string, unknown>).usage, null);
  t.event('[DONE]');
  const tail = payloads(t.finish());
  assert.equal(tail.length, 2);
  assert.deepEqual((tail[0] as Record<string, unknown>).choices, []);
  assert.deepEqual((tail[0] as Record<string, unknown>).usage, { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  assert.equal((tail[0] as Record<string, unknown>).id, 'c1');
  assert.equal(tail[1], '[DONE]');
});

test('mirrors reasoning into reasoning_content', () => {
  const t = new StreamTransformer(ctx());
  const out = payloads(t.event(chunk([{ index: 0, delta: { reasoning: 'think' }, finish_reason: null }])));
  const delta = (out[0] as { choices: Array<{ delta: Record<string, unknown> }> }).choices[0]!.delta;
  assert.equal(delta.reasoning_content, 'think');
  assert.equal(delta.reasoning, 'think');
});

test('splits a finish chunk that also carries text into text then an empty finish delta', () => {
  const t = new StreamTransformer(ctx());
  const out = payloads(t.event(chunk([{ index: 0, delta: { content: 'end' }, logprobs: null, finish_reason: 'length' }]))) as Array<{
    choices: Array<{ delta: Record<string, unknown>; finish_reason: unknown }>;
  }>;
  assert.equal(out.length, 2);
  assert.equal(out[0]!.choices[0]!.delta.content, 'end');
  assert.equal(out[0]!.choices[0]!.finish_reason, null);
  assert.deepEqual(out[1]!.choices[0]!.delta, {});
  assert.equal(out[1]!.choices[0]!.finish_reason, 'length');
  assert.equal(t.complete, true);
});

test('counts tokens itself when the upstream never reports usage', () => {
  const t = new StreamTransformer(ctx({ includeUsage: true }));
  t.event(chunk([{ index: 0, delta: { content: ' the' }, finish_reason: null }]));
  t.event(chunk([{ index: 0, delta: { content: ' cat' }, finish_reason: null }]));
  t.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  const usage = t.usage();
  assert.equal(usage.reported, false);
  assert.equal(usage.completionTokens, 2);
  assert.ok(usage.promptTokens > 0);
  const tail = payloads(t.finish());
  assert.deepEqual((tail[0] as Record<string, unknown>).usage, { prompt_tokens: usage.promptTokens, completion_tokens: 2, total_tokens: usage.promptTokens + 2 });
});

test('an error payload or garbage aborts the stream with an upstream error', () => {
  const t = new StreamTransformer(ctx());
  assert.throws(() => t.event('{"error":{"message":"engine died"}}'), (e: unknown) => e instanceof StreamAbortedByUpstream && e.message === 'engine died');
  assert.throws(() => t.event('not json'), StreamAbortedByUpstream);
});

test('once a deployment is known to report usage, content events pass unparsed and the model is renamed by text', () => {
  const hint = { reportsStreamUsage: true };
  const t = new StreamTransformer(ctx({ usageHint: hint, includeUsage: true }));
  t.event(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }], { model: 'upstream-name', usage: null }));
  const data = chunk([{ index: 0, delta: { content: 'x' }, logprobs: null, finish_reason: null }], { model: 'upstream-name' });
  const out = t.event(data);
  assert.equal(out, `data: ${data.replace('"model":"upstream-name"', '"model":"Public"').slice(0, -1)},"usage":null}\n\n`);
  t.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }], { model: 'upstream-name' }));
  t.event('[DONE]');
  t.finish();
  assert.equal(hint.reportsStreamUsage, false, 'a stream without usage resets what was learned');
  assert.equal(t.usage().completionTokens, 1, 'the unparsed event counts as one token');
});

test('a stream that ends with usage teaches the deployment that it reports usage', () => {
  const hint = { reportsStreamUsage: false };
  const t = new StreamTransformer(ctx({ usageHint: hint }));
  t.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  t.event(chunk([], { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  t.event('[DONE]');
  t.finish();
  assert.equal(hint.reportsStreamUsage, true);
});

test('with n > 1, one finished choice does not make the stream complete; every choice finished does', () => {
  const t = new StreamTransformer(ctx({ request: { model: 'Public', messages: [], n: 2 } }));
  assert.equal(t.empty, true);
  t.event(chunk([{ index: 0, delta: { role: 'assistant', content: 'a' }, finish_reason: null }, { index: 1, delta: { role: 'assistant', content: 'b' }, finish_reason: null }]));
  assert.equal(t.empty, false);
  t.event(chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]));
  assert.equal(t.complete, false, 'choice 1 is still generating: a cut now is a cut');
  t.event(chunk([{ index: 1, delta: {}, finish_reason: 'length' }]));
  assert.equal(t.complete, true);
});

test('a completions batch is complete only once every prompt’s choice finished', () => {
  const t = new StreamTransformer(ctx({ endpoint: 'completions', request: { model: 'Public', prompt: ['a', 'b'] } }));
  const event = (index: number, finish: string | null) =>
    JSON.stringify({ id: 'c1', object: 'text_completion', created: 1, model: 'Public', choices: [{ index, text: 'x', logprobs: null, finish_reason: finish }] });
  t.event(event(0, null));
  t.event(event(0, 'stop'));
  assert.equal(t.complete, false, 'prompt 1 has not even started');
  t.event(event(1, null));
  t.event(event(1, 'length'));
  assert.equal(t.complete, true);
});
