import { countChatPromptTokens } from '../../protocol/tokens.ts';
import { renderChat, chatStreamFormat, type ChatMeta } from './chat-render.ts';
import { SimRequestError } from './errors.ts';
import { randomHex, unixSeconds } from './ids.ts';
import { planChoice, type ChoicePlan } from './plan.ts';
import { optionalInt, readStop, readStreaming, type Body, type Job, type JobContext } from './request.ts';
import { baseSeed, choiceRng, logprobRng } from './text.ts';
import { chooseTool, makeToolCall } from './tools.ts';

const MAX_TOKENS = 1_000_000;

/** POST /chat/completions: validates like vLLM, then plans every choice. */
export function chatJob(body: Body, ctx: JobContext): Job {
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new SimRequestError(400, 'messages must be a non-empty array', 'messages');
  }
  const n = optionalInt(body, 'n', 1, 128) ?? 1;
  // Both are validated; max_completion_tokens wins, as in vLLM.
  const maxTokens = optionalInt(body, 'max_tokens', 1, MAX_TOKENS);
  const cap = optionalInt(body, 'max_completion_tokens', 1, MAX_TOKENS) ?? maxTokens;
  const { stream, includeUsage } = readStreaming(body);
  const logprobs = body.logprobs === true;
  const topLogprobs = optionalInt(body, 'top_logprobs', 0, 20);
  if (topLogprobs !== undefined && !logprobs) {
    throw new SimRequestError(400, 'top_logprobs requires logprobs to be true', 'top_logprobs');
  }
  const tool = chooseTool(body.tools, body.tool_choice);
  const stop = readStop(body.stop);
  const base = baseSeed(body.seed, JSON.stringify(messages));

  const choices: ChoicePlan[] = [];
  for (let i = 0; i < n; i++) {
    choices.push(planChoice(i, choiceRng(base, i), logprobRng(base, i), {
      length: ctx.outputTokens,
      cap,
      reasoning: ctx.spec.reasoning,
      stop,
      topLogprobs: logprobs ? (topLogprobs ?? 0) : undefined,
      toolCall: tool === undefined ? undefined : makeToolCall(tool),
    }));
  }
  const meta: ChatMeta = {
    id: `chatcmpl-${randomHex()}`,
    created: unixSeconds(),
    model: ctx.model,
    promptTokens: countChatPromptTokens(messages),
    reasoning: ctx.spec.reasoning,
    reasoningField: ctx.reasoningField,
    logprobs,
    reportUsage: ctx.reportUsage,
  };
  return {
    stream,
    promptTokens: meta.promptTokens,
    choices,
    render: () => renderChat(meta, choices),
    format: () => chatStreamFormat(meta, choices, includeUsage),
  };
}
