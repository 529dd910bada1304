import { Type, type Static } from '@sinclair/typebox';

/** Decimal string of yuan, e.g. "0.004". Parsed to integer minor units by billing, never to floats. */
const Decimal = Type.String({ pattern: '^[0-9]+(\\.[0-9]+)?$', description: 'decimal string, e.g. "0.004"' });

export const PriceSchema = Type.Object(
  {
    input: Decimal,
    output: Decimal,
    cached_input: Type.Optional(Decimal),
  },
  { additionalProperties: false, description: 'yuan per 1K tokens' },
);

export const TimeoutsSchema = Type.Object(
  {
    connect_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    headers_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'until the response headers (a whole answer when not streaming)' })),
    first_token_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'streams: until the first event after the headers' })),
    idle_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'longest silence between two reads of the body' })),
    total_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'the whole call, first byte to last' })),
  },
  { additionalProperties: false },
);

/**
 * A provider is one upstream endpoint family. Types other than `simulator` speak the OpenAI
 * API; the type names (vllm, deepseek, …) are kept for display and for future quirks.
 * Simulator providers take their engine options inline, so extra keys are allowed here and
 * checked by the provider's own option parser.
 */
export const ProviderSchema = Type.Object(
  {
    type: Type.String({ minLength: 1 }),
    base_url: Type.Optional(Type.String({ pattern: '^https?://' })),
    api_key: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    timeouts: Type.Optional(TimeoutsSchema),
    max_connections: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: true },
);

export const DeploymentSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$', description: 'addressable at /maas/deployment/{id}/…; default Model#index' })),
    provider: Type.String({ minLength: 1 }),
    upstream_model: Type.Optional(Type.String({ minLength: 1 })),
    chip: Type.Optional(Type.String({ minLength: 1 })),
    price: Type.Optional(PriceSchema),
    weight: Type.Optional(Type.Integer({ minimum: 0 })),
    priority: Type.Optional(Type.Integer({ minimum: 0 })),
    max_concurrency: Type.Optional(Type.Integer({ minimum: 1 })),
    timeouts: Type.Optional(TimeoutsSchema),
    metrics_url: Type.Optional(Type.String({ pattern: '^https?://', description: 'Prometheus metrics of a vLLM/SGLang engine, for load-aware balancing' })),
  },
  { additionalProperties: false },
);

export const MODEL_KINDS = ['chat', 'embedding'] as const;

export const ModelSchema = Type.Object(
  {
    kind: Type.Optional(Type.Union(MODEL_KINDS.map((k) => Type.Literal(k)))),
    owned_by: Type.Optional(Type.String({ minLength: 1 })),
    created: Type.Optional(Type.Integer({ minimum: 0 })),
    max_output_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
    price: Type.Optional(PriceSchema),
    deployments: Type.Array(DeploymentSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

/** A plan: the limits every key of an account on it gets (keys may lower or raise their own). */
export const PlanSchema = Type.Object(
  {
    rpm: Type.Integer({ minimum: 0, description: 'requests per minute; 0 = unlimited' }),
    tpm: Type.Integer({ minimum: 0, description: 'tokens per minute; 0 = unlimited' }),
    concurrency: Type.Integer({ minimum: 0, description: 'requests in flight; 0 = unlimited' }),
    models: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'models the plan may use; absent = all' })),
  },
  { additionalProperties: false },
);

export const ServerSchema = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })),
    body_limit: Type.Optional(Type.Integer({ minimum: 1024 })),
    shutdown_timeout_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    access_log: Type.Optional(Type.Boolean()),
    cors_origins: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'web origins browsers may call the API from; default ["*"], [] turns CORS off' })),
    billing: Type.Optional(Type.Boolean({ description: 'holds, settlement and usage records; default true' })),
  },
  { additionalProperties: false },
);

/** How the router treats failures: retries, the circuit breaker, active probes. */
export const RoutingSchema = Type.Object(
  {
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, description: 'deployments tried per request, first included; default 3' })),
    failure_threshold: Type.Optional(Type.Integer({ minimum: 1, description: 'transient failures within failure_window_ms that start a cooldown; default 3' })),
    failure_window_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    cooldown_ms: Type.Optional(Type.Integer({ minimum: 1, description: 'first cooldown; doubles on each consecutive trip' })),
    max_cooldown_ms: Type.Optional(Type.Integer({ minimum: 1 })),
    probe_interval_ms: Type.Optional(Type.Integer({ minimum: 100, description: 'active health probes; default 10000' })),
    metrics_interval_ms: Type.Optional(Type.Integer({ minimum: 100, description: 'engine metrics scrapes; default 2000' })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Optional(ServerSchema),
    routing: Type.Optional(RoutingSchema),
    providers: Type.Record(Type.String({ minLength: 1 }), ProviderSchema),
    models: Type.Record(Type.String({ minLength: 1 }), ModelSchema),
    plans: Type.Optional(Type.Record(Type.String({ minLength: 1 }), PlanSchema)),
  },
  { additionalProperties: false },
);

export type RawConfig = Static<typeof ConfigSchema>;
export type RawProvider = Static<typeof ProviderSchema>;
export type RawDeployment = Static<typeof DeploymentSchema>;
export type RawModel = Static<typeof ModelSchema>;
export type Price = Static<typeof PriceSchema>;
export type RawTimeouts = Static<typeof TimeoutsSchema>;
export type RawRouting = Static<typeof RoutingSchema>;
export type Plan = Static<typeof PlanSchema>;
export type ModelKind = (typeof MODEL_KINDS)[number];
