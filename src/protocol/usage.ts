/** Token usage as the gateway bills it, read from an upstream's `usage` object. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  reasoningTokens: number;
  /** False when the gateway counted the tokens itself because the upstream reported none. */
  reported: boolean;
}

function nonNegativeInt(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

export function readUsage(raw: unknown): Usage | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const u = raw as Record<string, unknown>;
  const promptDetails = u.prompt_tokens_details as Record<string, unknown> | null | undefined;
  const completionDetails = u.completion_tokens_details as Record<string, unknown> | null | undefined;
  return {
    promptTokens: nonNegativeInt(u.prompt_tokens),
    completionTokens: nonNegativeInt(u.completion_tokens),
    cachedTokens: nonNegativeInt(promptDetails?.cached_tokens),
    reasoningTokens: nonNegativeInt(completionDetails?.reasoning_tokens),
    reported: true,
  };
}

/** The wire object for a usage the gateway computed itself. */
export function usageObject(usage: Usage): Record<string, unknown> {
  const out: Record<string, unknown> = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
  if (usage.reasoningTokens > 0) out.completion_tokens_details = { reasoning_tokens: usage.reasoningTokens };
  return out;
}
