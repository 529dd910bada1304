import type { ReasoningField } from './options.ts';
import { completionTokens, joinSteps, type ChoicePlan, type FinishReason, type Step, type ToolCall } from './plan.ts';
import { chunkWriter } from './request.ts';
import type { StreamFormat } from './stream.ts';

/** Everything about a chat response that is not per choice. */
export interface ChatMeta {
  readonly id: string;
  readonly created: number;
  readonly model: string;
  readonly promptTokens: number;
  readonly reasoning: boolean;
  readonly reasoningField: ReasoningField;
  readonly logprobs: boolean;
  readonly reportUsage: boolean;
}

export function chatUsage(promptTokens: number, choices: readonly ChoicePlan[]) {
  const completion = completionTokens(choices);
  let reasoning = 0;
  for (const choice of choices) reasoning += choice.reasoningTokens;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

function tokenLogprobEntry(step: Step) {
  const bytes = (token: string) => [...Buffer.from(token, 'utf8')];
  return {
    token: step.text,
    logprob: step.logprob?.logprob ?? 0,
    bytes: bytes(step.text),
    top_logprobs: (step.logprob?.top ?? []).map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytes(t.token) })),
  };
}

function toolCallObject(call: ToolCall) {
  return { id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } };
}

function message(meta: ChatMeta, choice: ChoicePlan): Record<string, unknown> {
  const msg: Record<string, unknown> = {
    role: 'assistant',
    content: choice.toolCall === undefined ? joinSteps(choice.steps, 'content') : null,
    refusal: null,
  };
  if (meta.reasoning) msg[meta.reasoningField] = joinSteps(choice.steps, 'reasoning');
  if (choice.toolCall !== undefined) msg.tool_calls = [toolCallObject(choice.toolCall)];
  return msg;
}

/** The non-streaming `chat.completion` body. */
export function renderChat(meta: ChatMeta, choices: readonly ChoicePlan[]): string {
  const body: Record<string, unknown> = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: choices.map((choice) => ({
      index: choice.index,
      message: message(meta, choice),
      logprobs: meta.logprobs ? { content: choice.steps.filter((s) => s.kind === 'content').map(tokenLogprobEntry), refusal: null } : null,
      finish_reason: choice.finishReason,
    })),
  };
  if (meta.reportUsage) body.usage = chatUsage(meta.promptTokens, choices);
  return JSON.stringify(body);
}

/** One choice entry of a chunk, written by hand: this runs once per streamed token. */
function choiceEntry(index: number, delta: string, logprobs: string, finish: FinishReason | null): string {
  return `[{"index":${index},"delta":${delta},"logprobs":${logprobs},"finish_reason":${finish === null ? 'null' : `"${finish}"`}}]`;
}

function toolHeader(call: ToolCall): string {
  return `[{"index":0,"id":"${call.id}","type":"function","function":{"name":${JSON.stringify(call.name)},"arguments":""}}]`;
}

/**
 * `chat.completion.chunk` events, in OpenAI's order: role first (with the tool call's header when
 * the answer is a tool call), one delta per token, an empty-delta finish chunk, then usage.
 */
export function chatStreamFormat(meta: ChatMeta, choices: readonly ChoicePlan[], includeUsage: boolean): StreamFormat {
  const withUsage = includeUsage && meta.reportUsage;
  const write = chunkWriter(meta.id, 'chat.completion.chunk', meta.created, meta.model, withUsage);
  const field = meta.reasoningField;
  return {
    open(choice) {
      const call = choice.toolCall;
      const delta = call !== undefined && choice.steps[0]?.kind === 'tool_args'
        ? `{"role":"assistant","content":null,"tool_calls":${toolHeader(call)}}`
        : '{"role":"assistant","content":""}';
      return write(choiceEntry(choice.index, delta, 'null', null));
    },
    token(choice, k, finish) {
      const step = choice.steps[k]!;
      const text = JSON.stringify(step.text);
      const end = finish ? choice.finishReason : null;
      if (step.kind === 'reasoning') return write(choiceEntry(choice.index, `{"${field}":${text}}`, 'null', end));
      if (step.kind === 'content') {
        const logprobs = step.logprob === undefined ? 'null' : `{"content":[${JSON.stringify(tokenLogprobEntry(step))}],"refusal":null}`;
        return write(choiceEntry(choice.index, `{"content":${text}}`, logprobs, end));
      }
      // A reasoning model's tool call starts after its thinking: send the header chunk first.
      const header = k > 0 && choice.steps[k - 1]!.kind !== 'tool_args' && choice.toolCall !== undefined
        ? write(choiceEntry(choice.index, `{"tool_calls":${toolHeader(choice.toolCall)}}`, 'null', null))
        : '';
      return header + write(choiceEntry(choice.index, `{"tool_calls":[{"index":0,"function":{"arguments":${text}}}]}`, 'null', end));
    },
    finish(choice) {
      return write(choiceEntry(choice.index, '{}', 'null', choice.finishReason));
    },
    usage() {
      return withUsage ? write('[]', JSON.stringify(chatUsage(meta.promptTokens, choices))) : '';
    },
  };
}
