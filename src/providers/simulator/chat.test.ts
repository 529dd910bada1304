import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countChatPromptTokens, countTextTokens } from '../../protocol/tokens.ts';
import { SimulatorEngine } from './engine.ts';
import { parseSimulatorOptions } from './options.ts';
import { post, postJson, sseChunks, type Chunk } from './testing.ts';

interface ChatMessage {
  role: string;
  content: string | null;
  refusal: null;
  reasoning_content?: string;
  reasoning?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
}
interface ChatCompletion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: { index: number; message: ChatMessage; logprobs: { content: { token: string; logprob: number; bytes: number[]; top_logprobs: unknown[] }[] } | null; finish_reason: string }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number; completion_tokens_details: { reasoning_tokens: number } };
}

const engine = new SimulatorEngine();
const messages = [{ role: 'user', content: 'Tell me a long story about the sea.' }];
const chat = (body: Record<string, unknown>) => postJson<ChatCompletion>(engine, '/v1/chat/completions', { model: 'sim-chat', messages, ...body });
const stream = async (body: Record<string, unknown>, e = engine): Promise<Chunk[]> => {
  const res = await post(e, '/v1/chat/completions', { model: 'sim-chat', messages, stream: true, ...body });
  assert.equal(res.status, 200, res.text);
  assert.match(String(res.headers['content-type']), /^text\/event-stream/);
  return sseChunks(res.text);
};
const deltas = (chunks: Chunk[], index: number, key: string) =>
  chunks.flatMap((c) => c.choices).filter((c) => c.index === index).map((c) => c.delta?.[key]).filter((v) => typeof v === 'string').join('');

test('a chat completion has the OpenAI shape and exact usage', async () => {
  const before = Math.floor(Date.now() / 1000);
  const res = await chat({});
  assert.match(res.id, /^chatcmpl-[0-9a-f]+$/);
  assert.equal(res.object, 'chat.completion');
  assert.ok(Number.isInteger(res.created) && res.created >= before && res.created <= before + 1);
  assert.equal(res.model, 'sim-chat');
  const [choice] = res.choices;
  assert.deepEqual(Object.keys(choice!.message), ['role', 'content', 'refusal']);
  assert.equal(choice!.logprobs, null);
  assert.equal(choice!.finish_reason, 'stop');
  const words = choice!.message.content!.split(' ').length;
  assert.ok(words >= 16 && words <= 48, `${words} words`);
  assert.deepEqual(res.usage, {
    prompt_tokens: countChatPromptTokens(messages),
    completion_tokens: countTextTokens(choice!.message.content!),
    total_tokens: countChatPromptTokens(messages) + words,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  });
  assert.equal(res.usage!.completion_tokens, words);
});

test('same request and seed give the same text; another seed or prompt another text', async () => {
  const a = await chat({ seed: 11 });
  const b = await chat({ seed: 11 });
  const c = await chat({ seed: 12 });
  const d = await postJson<ChatCompletion>(engine, '/chat/completions', { model: 'sim-chat', messages: [{ role: 'user', content: 'other' }] });
  const e = await chat({});
  const f = await chat({});
  const text = (r: ChatCompletion) => r.choices[0]!.message.content;
  assert.equal(text(a), text(b));
  assert.notEqual(text(a), text(c));
  assert.notEqual(text(d), text(e));
  assert.equal(text(e), text(f), 'without a seed the prompt is the seed');
  assert.notEqual(a.id, b.id);
});

test('the `sim` field does not change the generated text', async () => {
  const plain = await chat({ seed: 5 });
  const withSim = await chat({ seed: 5, sim: { ttft_ms: 1, omit_usage: true } });
  assert.equal(withSim.choices[0]!.message.content, plain.choices[0]!.message.content);
  assert.equal(withSim.usage, undefined);
});

test('n choices are indexed 0..n-1 and differ', async () => {
  const res = await chat({ n: 3, seed: 1 });
  assert.deepEqual(res.choices.map((c) => c.index), [0, 1, 2]);
  assert.equal(new Set(res.choices.map((c) => c.message.content)).size, 3);
  const total = res.choices.reduce((sum, c) => sum + countTextTokens(c.message.content!), 0);
  assert.equal(res.usage!.completion_tokens, total);
});

test('max_tokens and max_completion_tokens cap the answer with finish_reason length', async () => {
  for (const cap of [{ max_tokens: 1 }, { max_completion_tokens: 1 }, { max_tokens: 50, max_completion_tokens: 3 }]) {
    const res = await chat(cap);
    const expected = 'max_completion_tokens' in cap ? cap.max_completion_tokens : cap.max_tokens;
    assert.equal(res.choices[0]!.finish_reason, 'length');
    assert.equal(res.usage!.completion_tokens, expected);
    assert.equal(countTextTokens(res.choices[0]!.message.content!), expected);
  }
});

test('a stop word ends the answer before it, with finish_reason stop', async () => {
  const full = (await chat({ seed: 3, sim: { output_tokens: 40 } })).choices[0]!.message.content!.split(' ');
  const stopWord = full[10]!;
  const res = await chat({ seed: 3, stop: [stopWord], sim: { output_tokens: 40 } });
  const cut = res.choices[0]!.message.content!;
  assert.equal(cut, full.slice(0, full.indexOf(stopWord)).join(' '));
  assert.equal(res.choices[0]!.finish_reason, 'stop');
  assert.equal(res.usage!.completion_tokens, countTextTokens(cut));
});

test('reasoning models think first (about a third), and count reasoning tokens', async () => {
  const res = await postJson<ChatCompletion>(engine, '/v1/chat/completions', { model: 'DeepSeek-R1', messages, sim: { output_tokens: 30 } });
  const msg = res.choices[0]!.message;
  assert.equal(countTextTokens(msg.reasoning_content!), 10);
  assert.equal(countTextTokens(msg.content!), 20);
  assert.equal(res.usage!.completion_tokens, 30);
  assert.equal(res.usage!.completion_tokens_details.reasoning_tokens, 10);

  const renamed = await postJson<ChatCompletion>(engine, '/v1/chat/completions', { model: 'QwQ-32B', messages, sim: { reasoning_field: 'reasoning' } });
  assert.equal(typeof renamed.choices[0]!.message.reasoning, 'string');
  assert.equal(renamed.choices[0]!.message.reasoning_content, undefined);
});

const tools = [
  { type: 'function', function: { name: 'first', parameters: { type: 'object', properties: {} } } },
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' }, metric: { type: 'boolean' }, at: { type: 'object' } } },
    },
  },
];

test('tools: the first tool (or the named one) is called with placeholder arguments', async () => {
  const auto = await chat({ tools });
  assert.equal(auto.choices[0]!.finish_reason, 'tool_calls');
  assert.equal(auto.choices[0]!.message.content, null);
  assert.equal(auto.choices[0]!.message.tool_calls![0]!.function.name, 'first');

  const named = await chat({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const [call] = named.choices[0]!.message.tool_calls!;
  assert.match(call!.id, /^call_[0-9a-f]+$/);
  assert.equal(call!.type, 'function');
  assert.deepEqual(JSON.parse(call!.function.arguments), { city: 'sim', days: 1, metric: true, at: null });

  const none = await chat({ tools, tool_choice: 'none' });
  assert.equal(none.choices[0]!.message.tool_calls, undefined);
  assert.equal(none.choices[0]!.finish_reason, 'stop');

  const missing = await post(engine, '/v1/chat/completions', { model: 'sim-chat', messages, tools, tool_choice: { type: 'function', function: { name: 'nope' } } });
  assert.equal(missing.status, 400);
});

test('logprobs: one entry per content token with top_logprobs as asked', async () => {
  const res = await chat({ logprobs: true, top_logprobs: 2, seed: 4 });
  const content = res.choices[0]!.logprobs!.content;
  assert.equal(content.map((e) => e.token).join(''), res.choices[0]!.message.content);
  for (const entry of content) {
    assert.ok(entry.logprob <= 0);
    assert.deepEqual(entry.bytes, [...Buffer.from(entry.token)]);
    assert.equal(entry.top_logprobs.length, 2);
  }
  assert.equal((await chat({ seed: 4 })).choices[0]!.message.content, res.choices[0]!.message.content, 'logprobs do not change the text');
});

test('stream: role first, one chunk per token, an empty finish chunk, then [DONE]', async () => {
  const chunks = await stream({ seed: 9 });
  const full = await chat({ seed: 9 });
  assert.ok(chunks.every((c) => c.id === chunks[0]!.id && c.created === chunks[0]!.created && c.model === 'sim-chat'));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && !('usage' in c)), 'no usage key without include_usage');
  assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
  assert.deepEqual(chunks.at(-1)!.choices[0], { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
  assert.equal(deltas(chunks, 0, 'content'), full.choices[0]!.message.content);
  assert.equal(chunks.length, 2 + full.usage!.completion_tokens);
});

test('stream usage: a final chunk with choices [] only with include_usage, and usage:null before it', async () => {
  const chunks = await stream({ stream_options: { include_usage: true } });
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  const usage = last.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
  assert.equal(usage.completion_tokens, countTextTokens(deltas(chunks, 0, 'content')));
  assert.ok(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length === 1));

  for (const body of [{ stream_options: { include_usage: true }, sim: { omit_usage: true } }, {}]) {
    const plain = await stream(body);
    assert.ok(plain.every((c) => c.choices.length > 0 && !('usage' in c)), JSON.stringify(body));
  }
  const noUsage = new SimulatorEngine(parseSimulatorOptions({ usage: false }, 'sim'));
  assert.ok((await stream({ stream_options: { include_usage: true } }, noUsage)).every((c) => c.choices.length > 0 && !('usage' in c)));
});

test('stream with n=2: each index opens with the role and finishes exactly once', async () => {
  const chunks = await stream({ n: 2, stream_options: { include_usage: true } });
  const usage = chunks.at(-1)!.usage as { completion_tokens: number };
  let tokens = 0;
  for (const index of [0, 1]) {
    const mine = chunks.flatMap((c) => c.choices).filter((c) => c.index === index);
    assert.deepEqual(mine[0]!.delta, { role: 'assistant', content: '' });
    assert.equal(mine.filter((c) => c.finish_reason !== null).length, 1);
    assert.equal(mine.at(-1)!.finish_reason, 'stop');
    tokens += countTextTokens(deltas(chunks, index, 'content'));
  }
  assert.equal(usage.completion_tokens, tokens);
  assert.notEqual(deltas(chunks, 0, 'content'), deltas(chunks, 1, 'content'));
});

test('stream tool call: header first, argument pieces assemble to valid JSON', async () => {
  const chunks = await stream({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  const first = chunks[0]!.choices[0]!.delta as { role: string; content: null; tool_calls: { index: number; id: string; type: string; function: { name: string; arguments: string } }[] };
  assert.equal(first.role, 'assistant');
  assert.equal(first.content, null);
  assert.equal(first.tool_calls[0]!.function.name, 'get_weather');
  assert.equal(first.tool_calls[0]!.function.arguments, '');
  let args = '';
  for (const chunk of chunks.slice(1, -1)) {
    const calls = chunk.choices[0]!.delta!.tool_calls as { index: number; function: { arguments: string } }[];
    assert.equal(calls[0]!.index, 0);
    args += calls[0]!.function.arguments;
  }
  assert.deepEqual(JSON.parse(args), { city: 'sim', days: 1, metric: true, at: null });
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'tool_calls');
});

test('stream of a reasoning model: reasoning deltas all precede content deltas', async () => {
  const chunks = await stream({ model: 'DeepSeek-R1', sim: { output_tokens: 12 } });
  const kinds = chunks.slice(1, -1).map((c) => Object.keys(c.choices[0]!.delta!)[0]);
  assert.deepEqual(kinds, [...Array(4).fill('reasoning_content'), ...Array(8).fill('content')]);
  const tool = await stream({ model: 'DeepSeek-R1', tools, sim: { output_tokens: 6 } });
  const toolKinds = tool.slice(1, -1).map((c) => Object.keys(c.choices[0]!.delta!)[0]);
  assert.deepEqual(toolKinds.slice(0, 3), ['reasoning_content', 'reasoning_content', 'tool_calls']);
  const header = tool[3]!.choices[0]!.delta!.tool_calls as { id?: string }[];
  assert.match(header[0]!.id!, /^call_/);
});

test('stream with finish_with_content: the last token rides on the finish chunk (vLLM style)', async () => {
  const chunks = await stream({ sim: { output_tokens: 3, finish_with_content: true } });
  assert.equal(chunks.length, 4);
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
  assert.equal(typeof chunks.at(-1)!.choices[0]!.delta!.content, 'string');
});

test('stream with logprobs: each content chunk carries its token', async () => {
  const chunks = await stream({ logprobs: true, top_logprobs: 1, sim: { output_tokens: 4 } });
  for (const chunk of chunks.slice(1, -1)) {
    const lp = chunk.choices[0]!.logprobs as { content: { token: string }[]; refusal: null };
    assert.equal(lp.content[0]!.token, chunk.choices[0]!.delta!.content);
  }
});
