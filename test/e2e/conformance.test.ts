/**
 * Conformance checklist (/work/shared/api-contract.md §12) against a real gateway process in
 * front of a real simulator process. Each test is named after the checklist item(s) it checks.
 *
 * Items covered exactly by other e2e tests (not repeated here):
 *   A2  errors.test.ts        'X-API-Key and a lower-case bearer scheme are accepted'
 *   A3  errors.test.ts        'no key, a wrong key, or a non-Bearer scheme → 401 invalid_token'
 *   A5  openai-sdk.test.ts    'a client X-Request-Id is echoed'
 *   A7  errors.test.ts        'malformed JSON → 400 invalid_request'
 *   A8  errors.test.ts        'an unknown model → 404 model_not_found; …'
 *   A11 errors.test.ts        'an upstream 500 → 500 internal_error', 'an upstream HTML 503 page …',
 *                             'an unreachable upstream → 502; one slower than its timeout → 504'
 *   A15 errors.test.ts        'an unknown X-AI-Provider → 400 naming the header; a known one routes'
 *   A16 openai-sdk.test.ts    models.list / chat.completions.create / embeddings.create tests
 *   B26 errors.test.ts        'missing, wrongly typed and out-of-range fields name the field'
 *   B31 openai-sdk.test.ts    'extra fields, multimodal parts and reasoning_content in history …'
 *   C33 C34 C35 openai-sdk.test.ts 'raw SSE framing: only data: lines, exactly [DONE] at the end, …'
 *   C41 openai-sdk.test.ts    'streaming with include_usage: one trailing usage chunk, usage:null before it'
 *   C42 openai-sdk.test.ts    'streaming without include_usage: data-only chunks, no empty-choices chunk, …'
 *   C44 openai-sdk.test.ts    'reasoning models: reasoning_content separate from content, streamed first'
 *   C45 errors.test.ts        'a stream whose upstream fails before the first token gets a JSON error, not SSE'
 *   C46 errors.test.ts        'a stream cut mid-way ends with an error event and no [DONE]; the SDK throws'
 *   C47 openai-sdk.test.ts    'the stream helper assembles a final completion', 'tool calls stream and assemble …'
 *   C48 lifecycle.test.ts     'a client that disconnects mid-stream cancels the upstream request'
 *   E56 openai-sdk.test.ts    'float and base64 (the SDK default) agree'
 *   E58 errors.test.ts        'missing, wrongly typed and out-of-range fields name the field' (input: '')
 *   A9 A10 A12 conformance-limits.test.ts (rate limits, insufficient_quota, x-ratelimit-* headers:
 *             they need accounts on plans and balances of their own, so they have their own gateway)
 *
 * Not implemented yet (skipped): F 59–60, G 61–66, I 69–72, J76–J78 (image task APIs).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { simConfig, startGateway, type GatewayProcess } from '../helpers/gateway.ts';
import { startSimProcess, type SimProcess } from '../helpers/sim.ts';

let sim: SimProcess;
let gw: GatewayProcess;
let client: OpenAI;

/** Embedding size of `embed-model` (the simulator's default for bge-m3). */
const D = 1024;

before(async () => {
  sim = await startSimProcess();
  const config = simConfig(sim.baseURL, {
    providers: {
      dead: { type: 'vllm', base_url: 'http://127.0.0.1:9/v1' },
      // In-process simulator: an embedding model that cannot change its output size.
      fixed: { type: 'simulator', models: { 'fixed-embed': { kind: 'embedding', dimensions: 384, matryoshka: false } } },
    },
    models: {
      'dead-model': { deployments: [{ provider: 'dead' }] },
      'fixed-embed': { kind: 'embedding', deployments: [{ provider: 'fixed' }] },
      // Streamed only by C36: its first stream is parsed event by event, later ones may pass through.
      'fresh-chat': { deployments: [{ provider: 'sim', upstream_model: 'upstream-chat' }] },
    },
  });
  gw = await startGateway({ config });
  client = gw.client();
});
after(async () => {
  await gw?.stop();
  await sim?.stop();
});

// ---------------------------------------------------------------------------------------------
// Wire helpers

type Obj = Record<string, unknown>;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}
interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number }>;
}
interface ChatChoice {
  index: number;
  message: { role: string; content: string | null; reasoning_content?: unknown; tool_calls?: ToolCall[] } & Obj;
  logprobs: { content: TokenLogprob[] } | null;
  finish_reason: string;
}
interface ChatCompletion {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: ChatChoice[];
  usage: Usage;
}
interface ToolCallDelta {
  index: number;
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: string };
}
interface ChunkChoice {
  index: number;
  delta?: { role?: string; content?: string | null; reasoning_content?: string; tool_calls?: ToolCallDelta[] };
  text?: string;
  finish_reason: string | null;
}
interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: ChunkChoice[];
  usage?: Usage | null;
}
interface Embeddings {
  object: string;
  data: Array<{ object: string; index: number; embedding: number[] | string }>;
  usage: { prompt_tokens: number; total_tokens: number };
}
interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const messages = [{ role: 'user', content: 'Tell me a long story about the sea.' }];
const chatBody = (extra: Obj = {}): Obj => ({ model: 'chat-model', messages, ...extra });

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function postOk<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await post(path, body, headers);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return JSON.parse(text) as T;
}

/** A non-2xx answer: status, the OpenAI error object (shape checked), and the headers. */
async function postError(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; error: ErrorBody['error'] }> {
  const res = await post(path, body, headers);
  const text = await res.text();
  assert.ok(res.status >= 400, `expected an error, got ${res.status}: ${text}`);
  assertErrorShape(text, res.headers);
  return { status: res.status, headers: res.headers, error: (JSON.parse(text) as ErrorBody).error };
}

function assertErrorShape(text: string, headers: Headers): void {
  assert.match(headers.get('content-type') ?? '', /^application\/json/, text);
  const body = JSON.parse(text) as Obj;
  assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), text);
  const error = body.error as Obj | undefined;
  assert.ok(error !== null && typeof error === 'object', `no error object: ${text}`);
  assert.equal(typeof error.message, 'string', text);
  assert.ok((error.message as string).length > 0, text);
  assert.equal(typeof error.type, 'string', text);
  for (const key of ['param', 'code']) {
    assert.ok(key in error, `error.${key} missing: ${text}`);
    assert.ok(error[key] === null || typeof error[key] === 'string', `error.${key} is ${JSON.stringify(error[key])}`);
  }
}

async function expect400(path: string, body: unknown, param?: string): Promise<void> {
  const r = await postError(path, body);
  assert.equal(r.status, 400, JSON.stringify(r.error));
  assert.equal(r.error.code, 'invalid_request');
  if (param !== undefined) assert.equal(r.error.param, param);
}

interface Sse {
  text: string;
  lines: string[];
  chunks: Chunk[];
  headers: Headers;
}

/** A streamed answer, read to the end and split into its `data:` payloads. */
async function stream(path: string, body: Obj, headers: Record<string, string> = {}): Promise<Sse> {
  const res = await post(path, { ...body, stream: true }, headers);
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
  for (const line of lines) {
    assert.ok(line.startsWith('data: ') || line.startsWith(':'), `not a data/comment line: ${line}`);
  }
  const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice('data: '.length));
  assert.equal(data.at(-1), '[DONE]', 'the stream ends with [DONE]');
  assert.ok(/data: \[DONE\](\r\n|\r|\n)*$/.test(text), 'nothing but line terminators after [DONE]');
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
  return { text, lines, chunks, headers: res.headers };
}

/** Statements 37 and 38 for one choice index of a chat stream. */
function assertChoiceOrder(chunks: readonly Chunk[], index: number): void {
  const mentions = chunks.flatMap((c, i) => c.choices.filter((ch) => ch.index === index).map((ch) => ({ at: i, ch })));
  assert.ok(mentions.length > 0, `choice ${index} never appears`);
  assert.equal(mentions[0]!.ch.delta?.role, 'assistant', `first chunk of choice ${index} carries role`);
  const finishing = mentions.filter((m) => m.ch.finish_reason !== null);
  assert.equal(finishing.length, 1, `exactly one finish chunk for choice ${index}`);
  for (const m of mentions) {
    assert.ok('finish_reason' in m.ch, 'finish_reason key present on every choice entry');
    if (m !== finishing[0]) assert.equal(m.ch.finish_reason, null);
  }
  const finish = finishing[0]!;
  assert.equal(finish, mentions.at(-1), `nothing for choice ${index} after its finish chunk`);
  const content = finish.ch.delta?.content;
  assert.ok(content === undefined || content === null || content === '', `finish chunk carries content ${JSON.stringify(content)}`);
}

function contentOf(chunks: readonly Chunk[], index: number): string {
  let text = '';
  for (const c of chunks) for (const ch of c.choices) if (ch.index === index) text += ch.delta?.content ?? '';
  return text;
}

/** The simulator's own non-streaming answer for the same upstream request. */
async function upstreamText(body: Obj): Promise<string> {
  const res = await fetch(`${sim.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, model: 'upstream-chat' }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as ChatCompletion).choices[0]!.message.content ?? '';
}

/** The upstream request that carried `marker` somewhere in its body. */
async function upstreamRequest(marker: string): Promise<Obj> {
  const found = (await sim.requests()).filter((r) => JSON.stringify(r.body).includes(marker));
  assert.equal(found.length, 1, `exactly one upstream request carries ${marker}`);
  return found[0]!.body as Obj;
}

const isNonNegInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 0;

function assertUsage(usage: Usage | undefined): void {
  assert.ok(usage, 'usage present');
  assert.ok(isNonNegInt(usage.prompt_tokens), `prompt_tokens ${usage.prompt_tokens}`);
  assert.ok(isNonNegInt(usage.completion_tokens), `completion_tokens ${usage.completion_tokens}`);
  assert.ok(isNonNegInt(usage.total_tokens), `total_tokens ${usage.total_tokens}`);
  assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

const tools = [
  { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } } },
  { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'number' }, label: { type: 'string' } } } } },
];
const toolNames = new Set(tools.map((t) => t.function.name));

function assertJsonObjectString(text: string): void {
  const parsed: unknown = JSON.parse(text);
  assert.ok(parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed), `arguments ${text} is not a JSON object`);
}

// ---------------------------------------------------------------------------------------------

describe('A. transport, auth, headers, errors', () => {
  test('A1 GET /v1/models with a Bearer key → 200 application/json', async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    await res.arrayBuffer();
  });

  test('A4 A6 A13 every response has x-request-id; every error is an OpenAI error object; no 4xx asks for a retry', async () => {
    const auth = { authorization: `Bearer ${gw.apiKey}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const cases: Array<[string, string, RequestInit]> = [
      ['health', '/health', {}],
      ['models', '/v1/models', { headers: auth }],
      ['chat 200', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ max_tokens: 4 })) }],
      ['chat SSE', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ max_tokens: 4, stream: true })) }],
      ['maas chat', '/maas/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ max_tokens: 4 })) }],
      ['embeddings', '/v1/embeddings', { method: 'POST', headers: json, body: JSON.stringify({ model: 'embed-model', input: 'x' }) }],
      ['400 bad JSON', '/v1/chat/completions', { method: 'POST', headers: json, body: '{' }],
      ['400 range', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ top_p: 7 })) }],
      ['400 upstream', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ sim: { status: 400, error_format: 'platform' } })) }],
      ['400 maas embeddings', '/maas/v1/embeddings', { method: 'POST', headers: json, body: JSON.stringify({ model: 'embed-model', input: '' }) }],
      ['401 none', '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chatBody()) }],
      ['401 wrong', '/v1/models', { headers: { authorization: 'Bearer sk-wrong' } }],
      ['404 model', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ model: 'nope' })) }],
      ['404 model id', '/v1/models/nope', { headers: auth }],
      ['404 url', '/v1/nothing', { headers: auth }],
      ['4xx method', '/v1/chat/completions', { headers: auth }],
      ['500 upstream', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ sim: { status: 500 } })) }],
      ['502 unreachable', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ model: 'dead-model' })) }],
      ['503 html', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ sim: { status: 503, error_format: 'html' } })) }],
      ['stream 500 before first token', '/v1/chat/completions', { method: 'POST', headers: json, body: JSON.stringify(chatBody({ stream: true, sim: { status: 500 } })) }],
    ];
    const seen = new Set<number>();
    for (const [name, path, init] of cases) {
      const res = await fetch(`${gw.url}${path}`, init);
      const text = await res.text();
      seen.add(res.status);
      assert.ok((res.headers.get('x-request-id') ?? '').length > 0, `${name}: x-request-id missing (status ${res.status})`);
      if (res.status < 300) continue;
      assertErrorShape(text, res.headers);
      if ([400, 401, 403, 404].includes(res.status)) assert.notEqual(res.headers.get('x-should-retry'), 'true', name);
      if (res.status === 500) assert.equal((JSON.parse(text) as ErrorBody).error.code, 'internal_error', name);
    }
    for (const status of [200, 400, 401, 404, 500, 502, 503]) assert.ok(seen.has(status), `the sweep produced a ${status}`);
  });

  test('A14 Stainless, OpenAI-Organization/Project and X-Failover-Enabled headers are not rejected', async () => {
    const headers = {
      'X-Stainless-Retry-Count': '0',
      'X-Stainless-Timeout': '600',
      'X-Stainless-Lang': 'js',
      'X-Stainless-OS': 'Linux',
      'X-Stainless-Arch': 'x64',
      'X-Stainless-Runtime': 'node',
      'X-Stainless-Runtime-Version': 'v24.0.0',
      'X-Stainless-Package-Version': '6.0.0',
      'OpenAI-Organization': 'org-abc',
      'OpenAI-Project': 'proj_abc',
      'X-Failover-Enabled': 'true',
    };
    const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ max_tokens: 4 }), headers);
    assert.equal(done.object, 'chat.completion');
    await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: 'x' }, headers);
    const sse = await stream('/v1/chat/completions', chatBody({ max_tokens: 4 }), headers);
    assert.ok(sse.chunks.length > 0);
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.apiKey}`, ...headers } });
    assert.equal(models.status, 200);
    await models.arrayBuffer();
  });
});

describe('B. chat, non-streaming', () => {
  test('B17 B19 B20 envelope, choice and usage shapes', async () => {
    const done = await postOk<ChatCompletion & Obj>('/v1/chat/completions', chatBody({ seed: 1 }));
    assert.equal(done.object, 'chat.completion');
    assert.equal(typeof done.id, 'string');
    assert.ok(done.id.length > 0);
    assert.ok(Number.isInteger(done.created), `created ${done.created}`);
    assert.ok(Math.abs(done.created - Date.now() / 1000) <= 300, `created ${done.created} is Unix seconds near now`);
    assert.equal(typeof done.model, 'string');
    assert.ok(done.model.length > 0);
    assert.ok(done.choices.length > 0);
    for (const choice of done.choices) {
      assert.equal(choice.message.role, 'assistant');
      assert.ok('content' in choice.message, 'message.content key present');
      assert.ok(choice.message.content === null || typeof choice.message.content === 'string');
      assert.ok('logprobs' in choice, 'logprobs key present');
      assert.ok(['stop', 'length', 'tool_calls', 'content_filter', 'function_call'].includes(choice.finish_reason), choice.finish_reason);
    }
    assertUsage(done.usage);
  });

  test('B18 n: 2 gives two choices indexed 0 and 1', async () => {
    const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ n: 2, max_tokens: 8 }));
    assert.equal(done.choices.length, 2);
    done.choices.forEach((c, i) => assert.equal(c.index, i));
    assertUsage(done.usage);
  });

  test('B21 max_tokens: 1 and max_completion_tokens: 1 finish with length', async () => {
    for (const field of ['max_tokens', 'max_completion_tokens']) {
      const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ [field]: 1, sim: { output_tokens: 50 } }));
      assert.equal(done.choices[0]!.finish_reason, 'length', field);
      assert.ok(done.usage.completion_tokens <= 1, `${field}: completion_tokens ${done.usage.completion_tokens}`);
    }
  });

  test('B22 a tool call: finish_reason tool_calls, id, type, a name from tools, JSON-object arguments', async () => {
    const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ tools }));
    const choice = done.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const calls = choice.message.tool_calls ?? [];
    assert.ok(calls.length > 0, 'tool_calls present');
    for (const call of calls) {
      assert.equal(typeof call.id, 'string');
      assert.ok(call.id.length > 0);
      assert.equal(call.type, 'function');
      assert.ok(toolNames.has(call.function.name), call.function.name);
      assert.equal(typeof call.function.arguments, 'string');
      assertJsonObjectString(call.function.arguments);
    }
  });

  test('B23 a named tool_choice calls that function', async () => {
    const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ tools, tool_choice: { type: 'function', function: { name: 'f' } } }));
    assert.equal(done.choices[0]!.message.tool_calls?.[0]?.function.name, 'f');
  });

  test('B24 logprobs with top_logprobs: 2; null without logprobs', async () => {
    const done = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ logprobs: true, top_logprobs: 2, max_tokens: 6 }));
    const content = done.choices[0]!.logprobs?.content;
    assert.ok(Array.isArray(content) && content.length > 0, 'logprobs.content is a non-empty array');
    for (const entry of content) {
      assert.equal(typeof entry.token, 'string');
      assert.equal(typeof entry.logprob, 'number');
      assert.ok(entry.logprob <= 0, `logprob ${entry.logprob}`);
      assert.ok(entry.bytes === null || (Array.isArray(entry.bytes) && entry.bytes.every((b) => Number.isInteger(b))), 'bytes');
      assert.ok(Array.isArray(entry.top_logprobs) && entry.top_logprobs.length <= 2, 'top_logprobs ≤ 2');
    }
    const plain = await postOk<ChatCompletion>('/v1/chat/completions', chatBody({ max_tokens: 6 }));
    assert.ok('logprobs' in plain.choices[0]!);
    assert.equal(plain.choices[0]!.logprobs, null);
  });

  test('B25 top_logprobs without logprobs, and stream_options without stream → 400 invalid_request', async () => {
    await expect400('/v1/chat/completions', chatBody({ top_logprobs: 2 }), 'top_logprobs');
    await expect400('/v1/chat/completions', chatBody({ logprobs: false, top_logprobs: 2 }), 'top_logprobs');
    await expect400('/v1/chat/completions', chatBody({ stream_options: { include_usage: true } }), 'stream_options');
    await expect400('/v1/chat/completions', chatBody({ stream: false, stream_options: { include_usage: true } }), 'stream_options');
  });

  test('B27 out-of-range temperature, n, presence_penalty and five stop strings → 400 naming the field', async () => {
    await expect400('/v1/chat/completions', chatBody({ temperature: 3 }), 'temperature');
    await expect400('/v1/chat/completions', chatBody({ n: 0 }), 'n');
    await expect400('/v1/chat/completions', chatBody({ presence_penalty: 5 }), 'presence_penalty');
    await expect400('/v1/chat/completions', chatBody({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop');
  });

  test('B28 tool_choice "required" without tools → 400', async () => {
    await expect400('/v1/chat/completions', chatBody({ tool_choice: 'required' }), 'tool_choice');
    await expect400('/v1/chat/completions', chatBody({ tool_choice: 'required', tools: [] }), 'tool_choice');
  });

  test('B29 image_url (data URL) and input_audio parts reach the upstream unchanged', async () => {
    const marker = `b29-${Date.now()}`;
    const multimodal = [
      {
        role: 'user',
        content: [
          { type: 'text', text: `Describe this. ${marker}` },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', detail: 'low' } },
          { type: 'input_audio', input_audio: { data: 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=', format: 'wav' } },
        ],
      },
    ];
    const done = await postOk<ChatCompletion>('/v1/chat/completions', { model: 'chat-model', messages: multimodal, max_tokens: 4 });
    assert.equal(done.object, 'chat.completion');
    assert.deepEqual((await upstreamRequest(marker)).messages, multimodal);
  });

  test('B30 an assistant turn with tool_calls and reasoning_content is forwarded intact', async () => {
    const marker = `b30-${Date.now()}`;
    const history = [
      { role: 'user', content: `Weather in Paris? ${marker}` },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'The user wants the weather; call the tool.',
        tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_abc', content: '18°C' },
    ];
    const done = await postOk<ChatCompletion>('/v1/chat/completions', { model: 'DeepSeek-R1', messages: history, tools, max_tokens: 8 });
    assert.equal(done.object, 'chat.completion');
    const upstream = await upstreamRequest(marker);
    assert.deepEqual(upstream.messages, history);
  });

  test('B32 reasoning from `reasoning_content` or `reasoning` upstreams: message.reasoning_content is a string, not in content', async () => {
    for (const field of ['reasoning_content', 'reasoning']) {
      const done = await postOk<ChatCompletion>('/v1/chat/completions', { model: 'DeepSeek-R1', messages, sim: { reasoning_field: field } });
      const message = done.choices[0]!.message;
      assert.equal(typeof message.reasoning_content, 'string', `${field}: reasoning_content is a string`);
      const reasoning = message.reasoning_content as string;
      assert.ok(reasoning.length > 0, field);
      assert.ok(!(message.content ?? '').includes(reasoning), `${field}: content does not contain the reasoning`);
    }
  });
});

describe('C. chat, streaming', () => {
  test('C36 every chunk is a chat.completion.chunk sharing id, created and model (first and later streams)', async () => {
    // The first stream to a deployment parses every event; later ones may pass events through.
    for (const includeUsage of [false, false, true]) {
      const { chunks } = await stream('/v1/chat/completions', chatBody({ model: 'fresh-chat', seed: 36, stream_options: { include_usage: includeUsage } }));
      assert.ok(chunks.length > 2);
      const first = chunks[0]!;
      assert.equal(typeof first.id, 'string');
      assert.ok(Number.isInteger(first.created));
      assert.equal(first.model, 'fresh-chat');
      for (const c of chunks) {
        assert.equal(c.object, 'chat.completion.chunk');
        assert.equal(c.id, first.id);
        assert.equal(c.created, first.created);
        assert.equal(c.model, first.model);
      }
    }
  });

  test('C37 C38 role first, exactly one finish chunk with an empty delta, nothing after it', async () => {
    for (const finishWithContent of [false, true]) {
      const { chunks } = await stream('/v1/chat/completions', chatBody({ sim: { finish_with_content: finishWithContent, output_tokens: 12 } }));
      assertChoiceOrder(chunks, 0);
    }
    const reasoning = await stream('/v1/chat/completions', { model: 'DeepSeek-R1', messages, sim: { output_tokens: 12 } });
    assertChoiceOrder(reasoning.chunks, 0);
  });

  test('C39 the streamed content equals the upstream text, also when the last token rides on the finish chunk', async () => {
    const cases: Obj[] = [
      { seed: 39 },
      { seed: 40, sim: { finish_with_content: true } },
      { seed: 41, sim: { tokens_per_second: 400, output_tokens: 24 } },
    ];
    for (const extra of cases) {
      const { chunks } = await stream('/v1/chat/completions', chatBody(extra));
      const expected = await upstreamText({ messages, ...extra });
      assert.ok(expected.length > 0);
      assert.equal(contentOf(chunks, 0), expected, JSON.stringify(extra));
    }
  });

  test('C40 a tool-call stream: indexed fragments, header on the first, JSON arguments, finish tool_calls', async () => {
    const named = { tools, tool_choice: { type: 'function', function: { name: 'f' } } };
    const variants: Obj[] = [
      chatBody(named),
      chatBody({ ...named, sim: { finish_with_content: true } }),
      { model: 'DeepSeek-R1', messages, ...named, sim: { output_tokens: 9 } },
    ];
    for (const body of variants) {
      const { chunks } = await stream('/v1/chat/completions', body);
      const byIndex = new Map<number, { first: ToolCallDelta; args: string }>();
      let finish: string | null = null;
      for (const c of chunks) {
        for (const ch of c.choices) {
          if (ch.finish_reason !== null) finish = ch.finish_reason;
          for (const frag of ch.delta?.tool_calls ?? []) {
            assert.ok(Number.isInteger(frag.index), `fragment index ${JSON.stringify(frag)}`);
            const entry = byIndex.get(frag.index);
            if (entry === undefined) byIndex.set(frag.index, { first: frag, args: frag.function?.arguments ?? '' });
            else entry.args += frag.function?.arguments ?? '';
          }
        }
      }
      const what = `${body.model as string} ${JSON.stringify(body.sim ?? {})}`;
      assert.ok(byIndex.size > 0, `${what}: tool_calls fragments streamed`);
      for (const { first, args } of byIndex.values()) {
        assert.equal(typeof first.id, 'string', what);
        assert.ok(first.id!.length > 0, what);
        assert.equal(first.type, 'function', what);
        assert.equal(first.function?.name, 'f', what);
        assertJsonObjectString(args);
      }
      assert.equal(finish, 'tool_calls', what);
      assertChoiceOrder(chunks, 0);
    }
  });

  test('C43 n: 2 streams both indices, each with role first and one finish chunk', async () => {
    for (const finishWithContent of [false, true]) {
      const { chunks } = await stream('/v1/chat/completions', chatBody({ n: 2, sim: { output_tokens: 10, finish_with_content: finishWithContent } }));
      assertChoiceOrder(chunks, 0);
      assertChoiceOrder(chunks, 1);
      assert.ok(contentOf(chunks, 1).length > 0);
    }
  });
});

interface Completion {
  object: string;
  choices: Array<{
    index: number;
    text: string;
    finish_reason: string;
    logprobs: { tokens: unknown[]; token_logprobs: unknown[]; top_logprobs: unknown[]; text_offset: unknown[] } | null;
  }>;
}

describe('D. completions', () => {
  test('D49 text_completion shape; prompt ["a","b"] with n: 1 gives choices 0 and 1', async () => {
    const one = await postOk<Completion>('/v1/completions', { model: 'chat-model', prompt: 'Once upon a time', max_tokens: 8 });
    assert.equal(one.object, 'text_completion');
    const two = await postOk<Completion>('/v1/completions', { model: 'chat-model', prompt: ['a', 'b'], n: 1, max_tokens: 4 });
    assert.equal(two.object, 'text_completion');
    assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
    for (const choice of [...one.choices, ...two.choices]) {
      assert.equal(typeof choice.text, 'string');
      assert.ok(['stop', 'length', 'content_filter'].includes(choice.finish_reason), choice.finish_reason);
    }
  });

  test('D50 echo: true returns text that begins with the prompt', async () => {
    const prompt = 'The quick brown fox';
    const done = await postOk<Completion>('/v1/completions', { model: 'chat-model', prompt, echo: true, max_tokens: 5 });
    assert.ok(done.choices[0]!.text.startsWith(prompt), done.choices[0]!.text);
    assert.ok(done.choices[0]!.text.length > prompt.length);
  });

  test('D51 logprobs: 2 returns four parallel arrays of equal length', async () => {
    const done = await postOk<Completion>('/v1/completions', { model: 'chat-model', prompt: 'Hello', logprobs: 2, max_tokens: 6 });
    const lp = done.choices[0]!.logprobs;
    assert.ok(lp !== null, 'logprobs object present');
    const lengths = [lp.tokens, lp.token_logprobs, lp.top_logprobs, lp.text_offset].map((a) => (Array.isArray(a) ? a.length : -1));
    assert.ok(lengths[0]! > 0);
    assert.deepEqual(lengths, [lengths[0], lengths[0], lengths[0], lengths[0]]);
  });

  test('D52 streamed completions are data-only text_completion chunks ending in [DONE]; best_of: 2 with stream → 400', async () => {
    for (const extra of [{}, { stream_options: { include_usage: true } }]) {
      const { lines, chunks } = await stream('/v1/completions', { model: 'chat-model', prompt: 'Once', max_tokens: 8, ...extra });
      assert.ok(lines.every((l) => !l.startsWith('event:')));
      assert.ok(chunks.length > 0);
      for (const c of chunks) assert.equal(c.object, 'text_completion');
      const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
      assert.ok(text.length > 0);
    }
    await expect400('/v1/completions', { model: 'chat-model', prompt: 'Once', best_of: 2, stream: true });
  });
});

describe('E. embeddings', () => {
  function assertVector(embedding: unknown, size: number): number[] {
    assert.ok(Array.isArray(embedding), `embedding is ${typeof embedding}`);
    assert.equal(embedding.length, size);
    assert.ok(embedding.every((v) => typeof v === 'number' && Number.isFinite(v)), 'finite numbers');
    return embedding as number[];
  }

  test('E53 input "hello": one embedding object of D finite numbers, integer usage', async () => {
    const res = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: 'hello' });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 1);
    assert.equal(res.data[0]!.object, 'embedding');
    assert.equal(res.data[0]!.index, 0);
    assertVector(res.data[0]!.embedding, D);
    assert.ok(Number.isInteger(res.usage.prompt_tokens));
    assert.ok(Number.isInteger(res.usage.total_tokens));
  });

  test('E54 three strings come back indexed 0, 1, 2 in order; token-id arrays are accepted', async () => {
    const inputs = ['alpha', 'beta', 'gamma'];
    const res = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: inputs });
    assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2]);
    // In order: item i is the vector of input i alone.
    const single = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: inputs[2] });
    assert.deepEqual(res.data[2]!.embedding, single.data[0]!.embedding);
    const ids = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: [[9906, 1917], [15339]] });
    assert.deepEqual(ids.data.map((d) => d.index), [0, 1]);
    for (const d of ids.data) assertVector(d.embedding, D);
  });

  test('E55 base64 decodes to 4 × D little-endian float32 bytes equal to the float response', async () => {
    const input = 'base64 check';
    const b64 = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input, encoding_format: 'base64' });
    const floats = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input, encoding_format: 'float' });
    const text = b64.data[0]!.embedding;
    assert.equal(typeof text, 'string');
    assert.match(text as string, /^[A-Za-z0-9+/]*={0,2}$/);
    const bytes = Buffer.from(text as string, 'base64');
    assert.equal(bytes.length, 4 * D);
    const expected = assertVector(floats.data[0]!.embedding, D);
    for (let i = 0; i < D; i++) {
      const got = bytes.readFloatLE(i * 4);
      const want = expected[i]!;
      assert.ok(got === want || Math.abs(got - want) <= 1e-6 * Math.abs(want), `dimension ${i}: ${got} vs ${want}`);
    }
  });

  test('E57 dimensions: 256 on a model that supports it; 400 on one that does not', async () => {
    const res = await postOk<Embeddings>('/v1/embeddings', { model: 'embed-model', input: 'short', dimensions: 256 });
    assertVector(res.data[0]!.embedding, 256);
    const sdk = await client.embeddings.create({ model: 'embed-model', input: 'short', dimensions: 256 });
    assert.equal(sdk.data[0]!.embedding.length, 256);
    // The model without matryoshka support still serves its native size.
    const native = await postOk<Embeddings>('/v1/embeddings', { model: 'fixed-embed', input: 'short' });
    assertVector(native.data[0]!.embedding, 384);
    const r = await postError('/v1/embeddings', { model: 'fixed-embed', input: 'short', dimensions: 256 });
    assert.equal(r.status, 400, JSON.stringify(r.error));
    assert.equal(r.error.code, 'invalid_request');
  });
});

describe('H. models', () => {
  interface ModelObject {
    id: string;
    object: string;
    created: number;
    owned_by: string;
  }
  async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
    const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${gw.apiKey}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  test('H67 GET /v1/models: a list of model objects', async () => {
    const { status, body } = await getJson<{ object: string; data: ModelObject[] }>('/v1/models');
    assert.equal(status, 200);
    assert.equal(body.object, 'list');
    assert.ok(body.data.length > 0);
    for (const m of body.data) {
      assert.equal(typeof m.id, 'string');
      assert.equal(m.object, 'model');
      assert.ok(Number.isInteger(m.created), `${m.id}: created ${m.created}`);
      assert.equal(typeof m.owned_by, 'string');
    }
  });

  test('H68 GET /v1/models/{id} returns the listed object, also for a %2F-encoded id; unknown → 404 model_not_found', async () => {
    const { body: list } = await getJson<{ data: ModelObject[] }>('/v1/models');
    for (const listed of list.data) {
      const { status, body } = await getJson<ModelObject>(`/v1/models/${encodeURIComponent(listed.id)}`);
      assert.equal(status, 200, listed.id);
      assert.deepEqual(body, listed);
    }
    assert.ok(list.data.some((m) => m.id.includes('/')), 'the list has an id with a slash');
    const { status, body } = await getJson<ErrorBody>('/v1/models/no-such%2Fmodel');
    assert.equal(status, 404);
    assert.equal(body.error.code, 'model_not_found');
  });
});

describe('J. MaaS path families', () => {
  const shape = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Obj)[k])]));
    }
    return value === null ? null : typeof value;
  };

  test('J73 /maas/v1/chat/completions and /maas/v1/embeddings answer like /v1', async () => {
    const body = chatBody({ seed: 73, max_tokens: 8 });
    const v1 = await postOk<ChatCompletion>('/v1/chat/completions', body);
    const maas = await postOk<ChatCompletion>('/maas/v1/chat/completions', body);
    assert.deepEqual(shape(maas), shape(v1));
    assert.equal(maas.object, 'chat.completion');
    assert.equal(maas.model, v1.model);
    assert.equal(maas.choices[0]!.message.content, v1.choices[0]!.message.content);

    const emb = { model: 'embed-model', input: ['one', 'two'] };
    const e1 = await postOk<Embeddings>('/v1/embeddings', emb);
    const e2 = await postOk<Embeddings>('/maas/v1/embeddings', emb);
    assert.deepEqual(shape(e2), shape(e1));
    assert.deepEqual(e2, e1);

    const streamed = await stream('/maas/v1/chat/completions', body);
    assert.ok(streamed.chunks.every((c) => c.object === 'chat.completion.chunk'));
    assert.equal(contentOf(streamed.chunks, 0), v1.choices[0]!.message.content);
  });

  test('J74 /maas/{model}/{chip}/chat/completions without a model in the body answers as the path model', async () => {
    const { model: _model, ...withoutModel } = chatBody({ seed: 74, max_tokens: 8 }) as Record<string, unknown>;
    const answer = await postOk<ChatCompletion>('/maas/chat-model/nvidia/chat/completions', withoutModel);
    assert.equal(answer.object, 'chat.completion');
    assert.equal(answer.model, 'chat-model');
  });

  test('J75 /maas/deployment/mif-…/chat/completions: a registered deployment answers; an unknown mif- id → 404 model_not_found', async () => {
    const created = await postCreated('/maas/v1/deployments', { model: 'my-finetune', base_url: sim.baseURL, upstream_model: 'upstream-chat' });
    assert.match(created.id, /^mif-[a-z0-9]{16}$/);
    const answer = await postOk<ChatCompletion>(`/maas/deployment/${created.id}/chat/completions`, chatBody({ seed: 75, max_tokens: 8 }));
    assert.equal(answer.object, 'chat.completion');
    assert.equal(answer.model, 'my-finetune');
    const unknown = await postError('/maas/deployment/mif-0000000000000000/chat/completions', chatBody({ max_tokens: 8 }));
    assert.equal(unknown.status, 404);
    assert.equal(unknown.error.code, 'model_not_found');
  });
});

async function postCreated(path: string, body: unknown): Promise<{ id: string }> {
  const res = await post(path, body);
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text) as { id: string };
}
