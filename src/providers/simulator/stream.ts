import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { SSE_DONE } from '../../protocol/sse/writer.ts';
import { SimDropError } from './errors.ts';
import type { ChoicePlan } from './plan.ts';
import type { Push } from './pump.ts';

/** How an endpoint renders a plan as SSE events; each method returns whole `data:` events ('' = none). */
export interface StreamFormat {
  /** Sent with the choice's first token: the role chunk, the echoed prompt. */
  open(choice: ChoicePlan): string;
  /** Token `step`; with `finish` the chunk also carries finish_reason (vLLM's last chunk). */
  token(choice: ChoicePlan, step: number, finish: boolean): string;
  /** The empty-delta chunk with finish_reason. */
  finish(choice: ChoicePlan): string;
  /** The trailing usage chunk, or '' when usage is not to be sent. */
  usage(): string;
}

export interface Pacing {
  readonly ttftMs: number;
  /** 0 = as fast as possible. */
  readonly tokensPerSecond: number;
}

export interface StreamRun {
  readonly choices: readonly ChoicePlan[];
  readonly format: StreamFormat;
  readonly pacing: Pacing;
  /** Cut the connection after this many tokens (before [DONE] when the answer is shorter). */
  readonly dropAfterTokens: number | undefined;
  readonly finishWithContent: boolean;
  /** Only the token deltas: no role chunk, no finish chunk (platforms that skip both). */
  readonly bare: boolean;
}

/** Without pacing, tokens go out in batches of this many steps, then the loop lets others run. */
const BATCH_STEPS = 64;

/** Accumulates events and pushes them as one write: fewer syscalls, same bytes. */
class Batch {
  readonly #push: Push;
  #text = '';

  constructor(push: Push) {
    this.#push = push;
  }

  add(event: string): void {
    this.#text += event;
  }

  flush(): Promise<void> | undefined {
    if (this.#text === '') return undefined;
    const text = this.#text;
    this.#text = '';
    return this.#push(text);
  }
}

/** Time a plan needs: first token after ttft, then one step per 1/tps (choices advance together). */
export function generationMs(pacing: Pacing, steps: number): number {
  if (steps === 0) return pacing.ttftMs;
  return pacing.ttftMs + (pacing.tokensPerSecond > 0 ? ((steps - 1) * 1000) / pacing.tokensPerSecond : 0);
}

export function longestSteps(choices: readonly ChoicePlan[]): number {
  let longest = 0;
  for (const choice of choices) longest = Math.max(longest, choice.steps.length);
  return longest;
}

/**
 * Emits a plan as SSE: step k of every choice at ttft + k/tps (deadlines from the start, so
 * timer jitter does not add up), then usage and [DONE]. `onToken` counts what really went out.
 */
export async function writeStream(run: StreamRun, push: Push, signal: AbortSignal, onToken: () => void): Promise<void> {
  const { choices, format, pacing } = run;
  const start = performance.now() + pacing.ttftMs;
  const interval = pacing.tokensPerSecond > 0 ? 1000 / pacing.tokensPerSecond : 0;
  const batch = new Batch(push);
  let sent = 0;
  if (pacing.ttftMs > 0) await sleep(pacing.ttftMs, undefined, { signal });
  for (const choice of choices) {
    if (run.bare) continue;
    batch.add(format.open(choice));
    if (choice.steps.length === 0) batch.add(format.finish(choice));
  }
  const longest = longestSteps(choices);
  for (let k = 0; k < longest; k++) {
    if (k > 0 && interval > 0) {
      await batch.flush();
      const wait = start + k * interval - performance.now();
      if (wait >= 1) await sleep(wait, undefined, { signal });
    }
    for (const choice of choices) {
      if (k >= choice.steps.length) continue;
      if (sent === run.dropAfterTokens) return drop(batch, sent);
      const last = k === choice.steps.length - 1;
      batch.add(format.token(choice, k, last && run.finishWithContent && !run.bare));
      sent++;
      onToken();
      if (last && !run.finishWithContent && !run.bare) batch.add(format.finish(choice));
    }
    if ((k + 1) % BATCH_STEPS === 0) {
      await batch.flush();
      await yieldToLoop(undefined, { signal });
    }
  }
  if (run.dropAfterTokens !== undefined) return drop(batch, sent);
  batch.add(format.usage());
  batch.add(SSE_DONE);
  await batch.flush();
}

/** Lets the last tokens reach the reader before the stream fails, so exactly `sent` arrive. */
async function drop(batch: Batch, sent: number): Promise<never> {
  await batch.flush();
  await yieldToLoop();
  throw new SimDropError(sent);
}
