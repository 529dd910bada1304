import type { Endpoint } from '../../providers/adapter.ts';
import type { JsonObject } from '../../protocol/validate/validate.ts';
import type { Usage } from '../../protocol/usage.ts';

/** What the relay needs to know about the client's request to shape the upstream's answer. */
export interface ResponseContext {
  readonly endpoint: Endpoint;
  /** The name the client asked for; upstream model names never leak to clients. */
  readonly publicModel: string;
  /** The client's request body (for counting prompt tokens when the upstream reports none). */
  readonly request: JsonObject;
  /** Streaming only: whether the client asked for the usage chunk. */
  readonly includeUsage: boolean;
  /** Embeddings only: the client wants base64 (the Node SDK's default). */
  readonly wantsBase64: boolean;
  /** The deployment's upstream model name (what the upstream puts in `model`). */
  readonly upstreamModel: string;
  /**
   * What the gateway learned about this deployment: whether its streams end with usage. While
   * they do, stream text need not be kept for counting, and most events are never parsed.
   */
  readonly usageHint: { reportsStreamUsage: boolean };
  /** Billing: the cost of a usage, as decimal yuan, added to the stream's usage chunk. */
  readonly costOf?: ((usage: Usage) => string) | undefined;
}
