import { Type } from '@sinclair/typebox';

/**
 * Request schemas for what the gateway must check itself (api-contract §2.6, §3, §4). They are
 * deliberately open (`additionalProperties` allowed): vendor extras such as `top_k` or
 * `chat_template_kwargs` must reach the upstream untouched.
 */
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** No model generates more; it keeps every product of caps, `n` and prompts a finite integer. */
const MAX_TOKENS_LIMIT = 2 ** 31 - 1;
const Stop = Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 })]));
const Penalty = Nullable(Type.Number({ minimum: -2, maximum: 2 }));
const LogitBias = Nullable(Type.Record(Type.String(), Type.Number({ minimum: -100, maximum: 100 })));
const StreamOptions = Nullable(Type.Object({ include_usage: Type.Optional(Nullable(Type.Boolean())) }));

const ContentPart = Type.Object({ type: Type.String({ minLength: 1 }) });
const Content = Type.Union([Type.String(), Type.Array(ContentPart, { minItems: 1 }), Type.Null()]);

const Message = Type.Object({
  role: Type.Union(['developer', 'system', 'user', 'assistant', 'tool', 'function'].map((r) => Type.Literal(r))),
  content: Type.Optional(Content),
  name: Type.Optional(Nullable(Type.String())),
  tool_call_id: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Nullable(Type.Array(Type.Object({})))),
});

const Tool = Type.Object({
  type: Type.String(),
  function: Type.Optional(Type.Object({ name: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,64}$' }) })),
});

const ToolChoice = Type.Union([
  Type.Literal('none'),
  Type.Literal('auto'),
  Type.Literal('required'),
  Type.Object({ type: Type.String(), function: Type.Optional(Type.Object({ name: Type.String() })) }),
]);

const ResponseFormat = Type.Union([
  Type.Object({ type: Type.Literal('text') }),
  Type.Object({ type: Type.Literal('json_object') }),
  Type.Object({ type: Type.Literal('json_schema'), json_schema: Type.Object({ name: Type.String({ pattern: '^[a-zA-Z0-9_-]{1,64}$' }) }) }),
]);

const common = {
  model: Type.String({ minLength: 1 }),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stream_options: Type.Optional(StreamOptions),
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  n: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 128 }))),
  stop: Type.Optional(Stop),
  presence_penalty: Type.Optional(Penalty),
  frequency_penalty: Type.Optional(Penalty),
  logit_bias: Type.Optional(LogitBias),
  seed: Type.Optional(Nullable(Type.Integer())),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT }))),
};

export const ChatRequestSchema = Type.Object({
  ...common,
  messages: Type.Array(Message, { minItems: 1 }),
  max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: MAX_TOKENS_LIMIT }))),
  logprobs: Type.Optional(Nullable(Type.Boolean())),
  top_logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  tools: Type.Optional(Nullable(Type.Array(Tool))),
  tool_choice: Type.Optional(Nullable(ToolChoice)),
  response_format: Type.Optional(Nullable(ResponseFormat)),
});

const TokenArray = Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 });

export const CompletionRequestSchema = Type.Object({
  ...common,
  prompt: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 }), TokenArray, Type.Array(TokenArray, { minItems: 1 })]),
  best_of: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  echo: Type.Optional(Nullable(Type.Boolean())),
  logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 5 }))),
  suffix: Type.Optional(Nullable(Type.String())),
});

export const EmbeddingRequestSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  input: Type.Union([
    Type.String({ minLength: 1 }),
    Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 2048 }),
    TokenArray,
    Type.Array(TokenArray, { minItems: 1, maxItems: 2048 }),
  ]),
  encoding_format: Type.Optional(Type.Union([Type.Literal('float'), Type.Literal('base64')])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
});
