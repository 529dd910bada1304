import { WORDS, defaultLength, pickWord, piece, sampleLogprob, type Rng } from './text.ts';

/**
 * A choice's whole answer, decided before the first byte is sent: every token it will emit, in
 * order, and why it ends. Streaming and non-streaming render the same plan, so the two agree
 * token for token and usage is exact in both.
 */
export type StepKind = 'reasoning' | 'content' | 'tool_args';
export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface TopToken {
  readonly token: string;
  readonly logprob: number;
}

export interface TokenLogprob {
  readonly logprob: number;
  /** The sampled token first, then lower-ranked alternatives. */
  readonly top: readonly TopToken[];
}

/** One emitted token. */
export interface Step {
  readonly kind: StepKind;
  readonly text: string;
  readonly logprob?: TokenLogprob;
}

export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

export interface ChoicePlan {
  readonly index: number;
  readonly steps: readonly Step[];
  readonly finishReason: FinishReason;
  readonly reasoningTokens: number;
  readonly toolCall?: ToolCall;
}

export interface PlanSpec {
  /** Tokens the model "wants" to say; undefined = 16..48 drawn from the choice's seed. */
  readonly length: number | undefined;
  /** max_tokens / max_completion_tokens: reasoning included. */
  readonly cap: number | undefined;
  readonly reasoning: boolean;
  readonly stop: ReadonlySet<string>;
  /** Alternatives per token when logprobs were asked for; undefined = no logprobs. */
  readonly topLogprobs: number | undefined;
  readonly toolCall?: ToolCall;
  /** Completions continue the prompt, so even their first word follows a space. */
  readonly continuation?: boolean;
}

/**
 * Reasoning models think for about a third of the budget, then answer. A stop word ends the
 * answer and is neither emitted nor counted, so usage always equals the tokens of the text.
 * The cap cuts both; `tool_calls` answers are never cut, so their arguments stay valid JSON.
 */
export function planChoice(index: number, rng: Rng, logprobRng: Rng, spec: PlanSpec): ChoicePlan {
  const length = spec.length ?? defaultLength(rng);
  const cap = spec.cap ?? Number.POSITIVE_INFINITY;
  const thinking = spec.reasoning ? Math.floor(length / 3) : 0;
  const steps: Step[] = [];
  const emit = (kind: StepKind, text: string) => {
    steps.push(kind === 'content' && spec.topLogprobs !== undefined ? { kind, text, logprob: tokenLogprob(text, logprobRng, spec.topLogprobs) } : { kind, text });
  };
  const first = spec.continuation === true ? 1 : 0;
  const done = (finishReason: FinishReason): ChoicePlan => ({ index, steps, finishReason, reasoningTokens: Math.min(thinking, steps.length) });

  for (let i = 0; i < thinking; i++) {
    if (steps.length >= cap) return done('length');
    emit('reasoning', piece(pickWord(rng), i));
  }
  if (spec.toolCall !== undefined) {
    for (const text of argumentPieces(spec.toolCall.arguments)) emit('tool_args', text);
    return { ...done('tool_calls'), toolCall: spec.toolCall };
  }
  for (let i = 0; i < length - thinking; i++) {
    if (steps.length >= cap) return done('length');
    const word = pickWord(rng);
    if (spec.stop.has(word)) return done('stop');
    emit('content', piece(word, first + i));
  }
  return done('stop');
}

function tokenLogprob(token: string, rng: Rng, alternatives: number): TokenLogprob {
  const logprob = sampleLogprob(rng);
  const top: TopToken[] = alternatives > 0 ? [{ token, logprob }] : [];
  let next = logprob;
  while (top.length < alternatives) {
    const candidate = piece(WORDS[Math.floor(rng() * WORDS.length)]!, 1);
    if (top.some((t) => t.token === candidate) || candidate === token) continue;
    next = Math.round((next - 0.25 - rng() * 2) * 1000) / 1000;
    top.push({ token: candidate, logprob: next });
  }
  return { logprob, top };
}

/**
 * Splits JSON arguments the way a model streams them: braces, commas, `"key":` and values as
 * separate pieces, whose concatenation is the original string.
 */
export function argumentPieces(json: string): string[] {
  return json.match(/[{},]|"(?:[^"\\]|\\.)*":?|[^{},"]+/g) ?? [];
}

export function joinSteps(steps: readonly Step[], kind: StepKind): string {
  let text = '';
  for (const step of steps) if (step.kind === kind) text += step.text;
  return text;
}

export function completionTokens(choices: readonly ChoicePlan[]): number {
  let total = 0;
  for (const choice of choices) total += choice.steps.length;
  return total;
}
