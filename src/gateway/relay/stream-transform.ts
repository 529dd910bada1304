import { GatewayError } from '../../errors/gateway-error.ts';
import { countTextTokens } from '../../protocol/tokens.ts';
import { readUsage, usageObject, type Usage } from '../../protocol/usage.ts';
import { SSE_DONE, sseData } from '../../protocol/sse/writer.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import { EventShortcut } from '../../protocol/shortcut/event-shortcut.ts';
import { choicesOf } from '../../protocol/choices.ts';
import { countRequestPromptTokens } from './normalize.ts';
import type { ResponseContext } from './response-context.ts';

/** The upstream reported an error inside an already-started stream. */
export class StreamAbortedByUpstream extends GatewayError {}

/**
 * Rewrites one upstream stream event at a time to the gateway's contract (api-contract §2.4):
 * the public model name; `reasoning_content` beside an upstream's `reasoning`; usage captured
 * from wherever the upstream put it and re-emitted as the single trailing chunk only when the
 * client asked; a finish chunk that also carries text split in two; and the two things the
 * SDKs' stream helpers insist on, repaired when an upstream leaves them out: `role` in each
 * choice's first delta, and a finish chunk for every choice before `[DONE]`. Events that need no
 * change are passed through as received, without re-serialising.
 */
export class StreamTransformer {
  readonly #ctx: ResponseContext;
  #usage: Usage | undefined;
  #rawUsage: JsonObject | undefined;
  #envelope: { id: unknown; object: unknown; created: unknown } | undefined;
  /** Generated text, kept only in case the upstream never reports usage. */
  readonly #texts: string[] = [];
  /** Content events passed through unparsed: the token estimate if usage never comes. */
  #unparsedTextEvents = 0;
  /** The upstream sent `[DONE]`. */
  #done = false;
  /** Choice indexes seen in parsed events, and those that got their finish_reason. */
  readonly #started: number[] = [];
  readonly #ended: number[] = [];
  readonly #shortcut: EventShortcut | undefined;
  /**
   * The choices of the answer: each one's first event must be parsed (for its role) before
   * events may go unparsed, and each must finish for the stream to be complete.
   */
  readonly #choices: number;

  constructor(ctx: ResponseContext) {
    this.#ctx = ctx;
    this.#choices = choicesOf(ctx.endpoint, ctx.request);
    // Only when the upstream is known to report usage may text go by uncounted.
    this.#shortcut = ctx.usageHint.reportsStreamUsage ? new EventShortcut(ctx.publicModel, ctx.upstreamModel, ctx.includeUsage) : undefined;
  }

  /**
   * True once the upstream sent `[DONE]`, or a finish_reason for every choice: the answer is
   * complete. With `n` > 1 one finished choice is not enough — a stream cut after it is cut.
   */
  get complete(): boolean {
    if (this.#done) return true;
    if (this.#started.length < this.#choices) return false;
    for (const index of this.#started) if (!this.#ended.includes(index)) return false;
    return true;
  }

  /** SSE text to send for one upstream `data:` payload ('' to send nothing). */
  event(data: string): string {
    if (data === '[DONE]') {
      this.#done = true;
      return '';
    }
    // Not before every choice's first event was parsed: its delta may need its role.
    if (this.#shortcut !== undefined && this.#started.length >= this.#choices) {
      const passed = this.#shortcut.passThrough(data);
      if (passed !== undefined) {
        this.#unparsedTextEvents++;
        return sseData(passed);
      }
    }
    let chunk: JsonObject;
    try {
      chunk = JSON.parse(data) as JsonObject;
    } catch {
      throw new StreamAbortedByUpstream('upstream_error', 'The upstream sent a malformed stream event.');
    }
    if (chunk.error != null) throw upstreamStreamError(chunk.error);
    this.#envelope ??= { id: chunk.id, object: chunk.object, created: chunk.created };

    let dirty = false;
    if (chunk.model !== this.#ctx.publicModel) {
      chunk.model = this.#ctx.publicModel;
      dirty = true;
    }
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as JsonObject[]) : [];
    if (chunk.usage != null) {
      this.#captureUsage(chunk.usage as JsonObject);
      if (choices.length === 0) return '';
      chunk.usage = null;
      dirty = true;
    }
    if (this.#ctx.includeUsage && chunk.usage === undefined) {
      chunk.usage = null;
      dirty = true;
    } else if (!this.#ctx.includeUsage && chunk.usage === null) {
      // Present only because the gateway asked the upstream for usage.
      delete chunk.usage;
      dirty = true;
    }
    if (choices.length === 0) return dirty ? sseData(JSON.stringify(chunk)) : sseData(data);
    dirty = this.#inspectChoices(choices) || dirty;
    const finishing = choices.filter(hasTextAndFinish);
    if (finishing.length > 0) return this.#splitFinish(chunk, finishing);
    return dirty ? sseData(JSON.stringify(chunk)) : sseData(data);
  }

  /** The tail of a complete stream: the usage chunk if the client asked, then `[DONE]`. */
  finish(): string {
    this.#ctx.usageHint.reportsStreamUsage = this.#usage !== undefined;
    const repaired = this.#missingFinishes();
    if (!this.#ctx.includeUsage) return repaired + SSE_DONE;
    const usage: JsonObject = this.#rawUsage ?? usageObject(this.usage());
    if (this.#ctx.costOf !== undefined) usage.cost = this.#ctx.costOf(this.usage());
    return repaired + sseData(JSON.stringify(this.#chunkOf([], usage))) + SSE_DONE;
  }

  /** A chunk in this stream's envelope (its id, object and created; our model name). */
  #chunkOf(choices: JsonObject[], usage: JsonObject | null | undefined): JsonObject {
    const envelope = this.#envelope ?? { id: undefined, object: undefined, created: Math.floor(Date.now() / 1000) };
    return {
      id: envelope.id,
      object: envelope.object ?? (this.#ctx.endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion'),
      created: envelope.created,
      model: this.#ctx.publicModel,
      choices,
      usage,
    };
  }

  /**
   * A finish chunk for each choice the upstream ended with `[DONE]` but never finished: the SDKs'
   * stream helpers reject a choice without a finish_reason. `stop` is the only reason it could be.
   */
  #missingFinishes(): string {
    let out = '';
    for (const index of this.#started) {
      if (this.#ended.includes(index)) continue;
      const choice: JsonObject = this.#ctx.endpoint === 'chat'
        ? { index, delta: {}, logprobs: null, finish_reason: 'stop' }
        : { index, text: '', logprobs: null, finish_reason: 'stop' };
      out += sseData(JSON.stringify(this.#chunkOf([choice], this.#ctx.includeUsage ? null : undefined)));
    }
    return out;
  }

  /** Nothing generated reached the gateway yet (and no usage): a client that leaves now owes nothing. */
  get empty(): boolean {
    return this.#usage === undefined && this.#started.length === 0 && this.#unparsedTextEvents === 0;
  }

  /** Usage as reported by the upstream, or counted from what was streamed so far. */
  usage(): Usage {
    if (this.#usage !== undefined) return this.#usage;
    return {
      promptTokens: countRequestPromptTokens(this.#ctx),
      // Events that went by unparsed carry about one token each (engines stream per token).
      completionTokens: countTextTokens(this.#texts.join('')) + this.#unparsedTextEvents,
      cachedTokens: 0,
      reasoningTokens: 0,
      reported: false,
    };
  }

  #captureUsage(raw: JsonObject): void {
    this.#usage = readUsage(raw);
    this.#rawUsage = raw;
  }

  #inspectChoices(choices: JsonObject[]): boolean {
    let dirty = false;
    for (const choice of choices) {
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const first = !this.#started.includes(index);
      if (first) this.#started.push(index);
      if (choice.finish_reason != null) this.#ended.push(index);
      if (typeof choice.text === 'string') {
        this.#texts.push(choice.text);
        continue;
      }
      const delta = choice.delta as JsonObject | undefined;
      if (delta == null) continue;
      if (first && delta.role == null) {
        delta.role = 'assistant';
        dirty = true;
      }
      if (typeof delta.reasoning === 'string' && delta.reasoning_content == null) {
        delta.reasoning_content = delta.reasoning;
        dirty = true;
      }
      if (this.#usage === undefined) this.#collectText(delta);
    }
    return dirty;
  }

  #collectText(delta: JsonObject): void {
    if (typeof delta.content === 'string') this.#texts.push(delta.content);
    if (typeof delta.reasoning_content === 'string') this.#texts.push(delta.reasoning_content);
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls as JsonObject[]) {
        const fn = call.function as JsonObject | undefined;
        if (typeof fn?.arguments === 'string') this.#texts.push(fn.arguments);
        if (typeof fn?.name === 'string') this.#texts.push(fn.name);
      }
    }
  }

  /** vLLM sends the last text together with finish_reason; clients expect an empty finish delta. */
  #splitFinish(chunk: JsonObject, finishing: JsonObject[]): string {
    const reasons = finishing.map((c) => c.finish_reason);
    for (const choice of finishing) choice.finish_reason = null;
    const content = sseData(JSON.stringify(chunk));
    chunk.choices = finishing.map((c, i) => ({ index: c.index, delta: {}, logprobs: null, finish_reason: reasons[i] }));
    return content + sseData(JSON.stringify(chunk));
  }
}

function hasTextAndFinish(choice: JsonObject): boolean {
  if (choice.finish_reason == null) return false;
  const delta = choice.delta as JsonObject | undefined;
  if (delta == null) return false;
  return (
    (typeof delta.content === 'string' && delta.content.length > 0) ||
    (typeof delta.reasoning_content === 'string' && delta.reasoning_content.length > 0) ||
    (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
  );
}

function upstreamStreamError(error: unknown): StreamAbortedByUpstream {
  const e = (error ?? {}) as JsonObject;
  const message = typeof e.message === 'string' ? e.message : typeof error === 'string' ? error : 'The upstream failed mid-stream.';
  return new StreamAbortedByUpstream('upstream_error', message);
}
