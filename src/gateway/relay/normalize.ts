import { countChatPromptTokens, countPromptTokens, countTextTokens } from '../../protocol/tokens.ts';
import { readUsage, usageObject, type Usage } from '../../protocol/usage.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import { base64ToFloats, floatsToBase64 } from './embedding-encoding.ts';
import type { ResponseContext } from './response-context.ts';

export interface Normalized {
  /** Whether the document was modified (and must be re-serialised rather than passed through). */
  readonly changed: boolean;
  readonly usage: Usage;
}

/**
 * Brings a complete (non-streaming) upstream answer to the gateway's contract in place: the
 * public model name, `reasoning_content` for reasoning text, usage always present, embeddings
 * in the encoding the client asked for.
 */
export function normalizeResponse(ctx: ResponseContext, doc: JsonObject): Normalized {
  let changed = false;
  if (doc.model !== ctx.publicModel) {
    doc.model = ctx.publicModel;
    changed = true;
  }
  if (ctx.endpoint === 'embeddings') changed = encodeEmbeddings(doc, ctx.wantsBase64) || changed;
  else if (ctx.endpoint === 'chat') changed = mirrorReasoning(doc) || changed;
  let usage = readUsage(doc.usage);
  if (usage === undefined) {
    usage = countUsage(ctx, doc);
    doc.usage = usageObject(usage);
    changed = true;
  }
  return { changed, usage };
}

function choicesOf(doc: JsonObject): JsonObject[] {
  return Array.isArray(doc.choices) ? (doc.choices as JsonObject[]) : [];
}

/** vLLM ≥0.11 and OpenRouter say `reasoning`; our clients read `reasoning_content`. */
function mirrorReasoning(doc: JsonObject): boolean {
  let changed = false;
  for (const choice of choicesOf(doc)) {
    const message = choice.message as JsonObject | undefined;
    if (message && typeof message.reasoning === 'string' && message.reasoning_content == null) {
      message.reasoning_content = message.reasoning;
      changed = true;
    }
  }
  return changed;
}

function encodeEmbeddings(doc: JsonObject, wantsBase64: boolean): boolean {
  let changed = false;
  const data = Array.isArray(doc.data) ? (doc.data as JsonObject[]) : [];
  for (const item of data) {
    const vector = item.embedding;
    if (wantsBase64 && Array.isArray(vector)) {
      item.embedding = floatsToBase64(vector as number[]);
      changed = true;
    } else if (!wantsBase64 && typeof vector === 'string') {
      item.embedding = base64ToFloats(vector);
      changed = true;
    }
  }
  return changed;
}

function countUsage(ctx: ResponseContext, doc: JsonObject): Usage {
  const promptTokens = countRequestPromptTokens(ctx);
  let completionTokens = 0;
  if (ctx.endpoint !== 'embeddings') {
    for (const choice of choicesOf(doc)) completionTokens += countTextTokens(choiceText(choice));
  }
  return { promptTokens, completionTokens, cachedTokens: 0, reasoningTokens: 0, reported: false };
}

export function countRequestPromptTokens(ctx: ResponseContext): number {
  const r = ctx.request;
  if (ctx.endpoint === 'chat') return countChatPromptTokens(r.messages);
  return countPromptTokens(ctx.endpoint === 'embeddings' ? r.input : r.prompt);
}

/** All generated text of a choice (answer, reasoning, tool arguments) for fallback counting. */
function choiceText(choice: JsonObject): string {
  if (typeof choice.text === 'string') return choice.text;
  const message = choice.message as JsonObject | undefined;
  if (message === undefined) return '';
  let text = typeof message.content === 'string' ? message.content : '';
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'string') text += reasoning;
  if (Array.isArray(message.tool_calls)) text += JSON.stringify(message.tool_calls);
  return text;
}
