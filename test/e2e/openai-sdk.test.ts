import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;
let gw: GatewayProcess;
let client: OpenAI;

before(async () => {
  sim = await startSimProcess();
  gw = await startGateway({ config: simConfig(sim.baseURL) });
  client = gw.client();
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
});

function lastUpstreamBody(): Promise<Record<string, unknown>> {
  return sim.requests().then((list) => list[list.length - 1]!.body as Record<string, unknown>);
}

describe('models', () => {
  test('lists the configured models in OpenAI shape', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.deepEqual(ids.sort(), ['DeepSeek-R1', 'Qwen/Qwen2.5-7B-Instruct', 'chat-model', 'embed-model']);
    for (const m of page.data) {
      assert.equal(m.object, 'model');
      assert.equal(typeof m.created, 'number');
      assert.equal(m.owned_by, 'vllm');
    }
  });

  test('retrieves a model whose id contains a slash (sent as %2F)', async () => {
    const model = await client.models.retrieve('Qwen/Qwen2.5-7B-Instruct');
    assert.equal(model.id, 'Qwen/Qwen2.5-7B-Instruct');
    const raw = await fetch(`${gw.url}/v1/models/Qwen/Qwen2.5-7B-Instruct`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    assert.equal(raw.status, 200);
  });
});

describe('chat completions', () => {
  test('non-streaming: public model name, usage, request id', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'chat-model', messages: [{ role: 'user', content: 'Say hello' }], max_tokens: 20, seed: 7 })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'chat-model');
    assert.equal(data.choices[0]!.message.role, 'assistant');
    assert.ok((data.choices[0]!.message.content ?? '').length > 0);
    assert.equal(data.usage!.total_tokens, data.usage!.prompt_tokens + data.usage!.completion_tokens);
    assert.ok(data.usage!.completion_tokens <= 20);
    assert.match(response.headers.get('x-request-id') ?? '', /^req_[0-9a-f]{32}$/);
    assert.equal((await lastUpstreamBody()).model, 'upstream-chat');
  });

  test('the same seed gives the same answer', async () => {
    const ask = () => client.chat.completions.create({ model: 'chat-model', messages: [{ role: 'user', content: 'x' }], seed: 42 });
    const [a, b] = await Promise.all([ask(), ask()]);
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
  });

  test('streaming without include_usage: data-only chunks, no empty-choices chunk, [DONE] last', async () => {
    const stream = await client.chat.completions.create({ model: 'chat-model', messages: [{ role: 'user', content: 'Hi' }], stream: true });
    let text = '';
    let finishes = 0;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      ids.add(chunk.id);
      assert.equal(chunk.model, 'chat-model');
      assert.ok(chunk.choices.length > 0, 'no empty-choices chunk without include_usage');
      assert.ok(!('usage' in chunk), 'no usage key on chunks when the client did not ask for usage');
      text += chunk.choices[0]!.delta.content ?? '';
      if (chunk.choices[0]!.finish_reason) finishes++;
    }
    assert.equal(ids.size, 1);
    assert.equal(finishes, 1);
    assert.ok(text.length > 0);
    // The gateway still asked the upstream for usage, to know what it bills.
    const upstream = await lastUpstreamBody();
    assert.deepEqual(upstream.stream_options, { include_usage: true });
  });

  test('streaming with include_usage: one trailing usage chunk, usage:null before it', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat-model',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    for (const n of [last.usage!.prompt_tokens, last.usage!.completion_tokens, last.usage!.total_tokens]) assert.ok(Number.isInteger(n) && n >= 0, `token count ${n}`);
    assert.ok(last.usage!.prompt_tokens > 0);
    assert.equal(last.usage!.total_tokens, last.usage!.prompt_tokens + last.usage!.completion_tokens);
    for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
    const generated = chunks.filter((c) => c.choices[0]?.delta.content).length;
    assert.equal(last.usage!.completion_tokens, generated);
  });

  test('raw SSE framing: only data: lines, exactly [DONE] at the end, even with Accept: application/json', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'Hi' }], stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    assert.ok(res.headers.get('x-request-id'));
    const body = await res.text();
    const lines = body.split('\n').filter((l) => l.length > 0);
    for (const line of lines) assert.ok(line.startsWith('data: '), line);
    assert.equal(lines.at(-1), 'data: [DONE]');
    assert.ok(body.endsWith('data: [DONE]\n\n'));
  });

  test('the stream helper assembles a final completion', async () => {
    const runner = client.chat.completions.stream({ model: 'chat-model', messages: [{ role: 'user', content: 'Hi' }] });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0]!.message.role, 'assistant');
    assert.ok(final.choices[0]!.finish_reason);
  });

  test('the stream helper also assembles a stream whose upstream sent no role and no finish chunk', async () => {
    const body = { model: 'chat-model', messages: [{ role: 'user' as const, content: 'Hi' }], n: 2, sim: { bare_stream: true, output_tokens: 5 } };
    // Without the gateway's repair the helper throws "missing role for choice 0" / "missing finish_reason".
    const final = await client.chat.completions.stream(body as Parameters<typeof client.chat.completions.stream>[0]).finalChatCompletion();
    assert.equal(final.choices.length, 2);
    for (const choice of final.choices) {
      assert.equal(choice.message.role, 'assistant');
      assert.equal(choice.finish_reason, 'stop');
      assert.ok((choice.message.content ?? '').length > 0);
    }
  });

  test('tool calls stream and assemble into valid JSON arguments', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const runner = client.chat.completions.stream({ model: 'chat-model', messages: [{ role: 'user', content: 'Weather?' }], tools });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(call.type, 'function');
    if (call.type === 'function') {
      assert.equal(call.function.name, 'get_weather');
      assert.equal(typeof JSON.parse(call.function.arguments), 'object');
    }
  });

  test('extra fields, multimodal parts and reasoning_content in history reach the upstream untouched', async () => {
    const messages = [
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: 'A picture.', reasoning_content: 'Looked at pixels.' },
      { role: 'user', content: 'More.' },
    ];
    const extras = { top_k: 20, repetition_penalty: 1.1, stop_token_ids: [151329, 151336], chat_template_kwargs: { enable_thinking: false } };
    await client.chat.completions.create({ model: 'chat-model', messages, ...extras } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const upstream = await lastUpstreamBody();
    for (const [k, v] of Object.entries(extras)) assert.deepEqual(upstream[k], v, k);
    assert.deepEqual(upstream.messages, messages);
  });

  test('reasoning models: reasoning_content separate from content, streamed first', async () => {
    const done = await client.chat.completions.create({ model: 'DeepSeek-R1', messages: [{ role: 'user', content: 'Think' }] });
    const message = done.choices[0]!.message as unknown as Record<string, unknown>;
    assert.equal(typeof message.reasoning_content, 'string');
    assert.ok((message.reasoning_content as string).length > 0);
    assert.ok(!(message.content as string).includes(message.reasoning_content as string));

    const stream = await client.chat.completions.create({ model: 'DeepSeek-R1', messages: [{ role: 'user', content: 'Think' }], stream: true });
    let sawContent = false;
    let reasoningAfterContent = false;
    let reasoning = '';
    for await (const chunk of stream) {
      const delta = (chunk.choices[0]?.delta ?? {}) as Record<string, unknown>;
      if (typeof delta.reasoning_content === 'string') {
        reasoning += delta.reasoning_content;
        if (sawContent) reasoningAfterContent = true;
      }
      if (typeof delta.content === 'string' && delta.content.length > 0) sawContent = true;
    }
    assert.ok(reasoning.length > 0);
    assert.ok(sawContent);
    assert.equal(reasoningAfterContent, false);
  });

  test('an upstream that says `reasoning` is mirrored as reasoning_content (and keeps reasoning)', async () => {
    const body = { model: 'DeepSeek-R1', messages: [{ role: 'user', content: 'Think' }], sim: { reasoning_field: 'reasoning' } };
    const done = (await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming)) as unknown as {
      choices: Array<{ message: Record<string, unknown> }>;
    };
    assert.equal(typeof done.choices[0]!.message.reasoning_content, 'string');
    assert.equal(done.choices[0]!.message.reasoning_content, done.choices[0]!.message.reasoning);

    const stream = await client.chat.completions.create({ ...body, stream: true } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    let mirrored = 0;
    for await (const chunk of stream) {
      const delta = (chunk.choices[0]?.delta ?? {}) as Record<string, unknown>;
      if (delta.reasoning !== undefined) {
        assert.equal(delta.reasoning_content, delta.reasoning);
        mirrored++;
      }
    }
    assert.ok(mirrored > 0);
  });

  test('an upstream that reports no usage is counted by the gateway', async () => {
    const body = { model: 'chat-model', messages: [{ role: 'user', content: 'Count me' }], sim: { omit_usage: true }, seed: 3 };
    const done = await client.chat.completions.create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.ok(done.usage!.prompt_tokens > 0);
    assert.ok(done.usage!.completion_tokens > 0);
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } } as unknown as OpenAI.ChatCompletionCreateParamsStreaming);
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    const { cost, ...counts } = usage as OpenAI.CompletionUsage & { cost?: string };
    assert.deepEqual(counts, done.usage, 'streamed and non-streamed counts agree');
    assert.equal(typeof cost, 'string', 'the usage chunk says what the stream cost');
  });

  test('the /maas/v1 prefix serves the same API, authenticated by X-API-Key', async () => {
    const maas = new OpenAI({ baseURL: `${gw.url}/maas/v1`, apiKey: 'unused', defaultHeaders: { authorization: null, 'x-api-key': gw.apiKey }, maxRetries: 0 });
    const done = await maas.chat.completions.create({ model: 'chat-model', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(done.object, 'chat.completion');
  });

  test('a client X-Request-Id is echoed', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'chat-model', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'X-Request-Id': 't-123' } })
      .withResponse();
    assert.equal(response.headers.get('x-request-id'), 't-123');
  });
});

describe('completions', () => {
  test('non-streaming with a prompt array gives one choice per prompt', async () => {
    const done = await client.completions.create({ model: 'chat-model', prompt: ['a', 'b'], max_tokens: 8 });
    assert.equal(done.object, 'text_completion');
    assert.deepEqual(done.choices.map((c) => c.index), [0, 1]);
    assert.equal(done.model, 'chat-model');
    assert.ok(done.usage!.completion_tokens > 0);
  });

  test('streaming ends with usage when asked', async () => {
    const stream = await client.completions.create({ model: 'chat-model', prompt: 'Once', max_tokens: 8, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      usage = chunk.usage ?? usage;
    }
    assert.ok(text.length > 0);
    assert.ok(usage!.completion_tokens > 0 && usage!.completion_tokens <= 8);
  });
});

describe('embeddings', () => {
  test('float and base64 (the SDK default) agree', async () => {
    const input = ['first text', 'second text'];
    const floats = await client.embeddings.create({ model: 'embed-model', input, encoding_format: 'float' });
    const decoded = await client.embeddings.create({ model: 'embed-model', input });
    assert.equal(floats.object, 'list');
    assert.equal(floats.model, 'embed-model');
    assert.deepEqual(floats.data.map((d) => d.index), [0, 1]);
    for (let i = 0; i < input.length; i++) {
      const a = floats.data[i]!.embedding;
      const b = decoded.data[i]!.embedding;
      assert.equal(a.length, b.length);
      assert.ok(a.length > 0);
      for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j]! - b[j]!) <= 1e-6 * Math.max(1, Math.abs(a[j]!)));
    }
    // The upstream was asked for floats; the gateway did the base64 encoding.
    assert.equal((await lastUpstreamBody()).encoding_format, undefined);
    // And the decoded vectors have the model's dimension: what the upstream itself returns.
    const direct = new OpenAI({ baseURL: sim.baseURL, apiKey: 'unused', maxRetries: 0 });
    const upstream = await direct.embeddings.create({ model: 'bge-m3', input: input[0]!, encoding_format: 'float' });
    assert.equal(decoded.data[0]!.embedding.length, upstream.data[0]!.embedding.length);
  });

  test('raw base64 decodes to 4 bytes per dimension', async () => {
    const res = await fetch(`${gw.url}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'embed-model', input: 'hello', encoding_format: 'base64' }),
    });
    const body = (await res.json()) as { data: Array<{ embedding: string }>; usage: { prompt_tokens: number } };
    const floats = (await (
      await fetch(`${gw.url}/v1/embeddings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'embed-model', input: 'hello' }),
      })
    ).json()) as { data: Array<{ embedding: number[] }> };
    const bytes = Buffer.from(body.data[0]!.embedding, 'base64');
    assert.equal(bytes.length, 4 * floats.data[0]!.embedding.length);
    assert.ok(body.usage.prompt_tokens > 0);
  });
});
