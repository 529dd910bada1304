/**
 * Simulator options: what a YAML provider block or `maas sim` flags may set. Parsed once at
 * start-up into a frozen object; a bad value fails loudly with the full field path.
 */
import { boolean, nonNegativeInteger, nonNegativeNumber, oneOf, parseFields, plainObject, positiveInteger, type Checker } from './checks.ts';

export const MODEL_KINDS = ['chat', 'embedding'] as const;
export type SimModelKind = (typeof MODEL_KINDS)[number];

export const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const;
export type ReasoningField = (typeof REASONING_FIELDS)[number];

export interface SimModelSpec {
  readonly kind?: SimModelKind;
  readonly reasoning?: boolean;
  readonly dimensions?: number;
  readonly matryoshka?: boolean;
}

export interface SimulatorOptions {
  readonly ttft_ms: number;
  /** 0 = as fast as possible. */
  readonly tokens_per_second: number;
  /** 0 = unlimited; beyond it requests wait in a FIFO queue. */
  readonly max_concurrency: number;
  /** Fixed answer length; undefined = 16..48 tokens chosen from the request's seed. */
  readonly output_tokens: number | undefined;
  readonly embedding_dimensions: number;
  /** false = never report usage, to exercise the gateway's own counting. */
  readonly usage: boolean;
  readonly reasoning_field: ReasoningField;
  /** When set, only these models exist (others → 404). */
  readonly models: Readonly<Record<string, SimModelSpec>> | undefined;
  /**
   * Like vLLM's `--api-key`: the OpenAI routes (models included) then answer 401 unless the
   * request carries `Authorization: Bearer <api_key>`; /health, /metrics and /sim/* stay open.
   */
  readonly api_key: string | undefined;
  /**
   * Whether a request's own `sim` field may inject faults. Off in the built-in default config:
   * there every tenant shares the simulated deployments, and one caller's injected 401 or 500s
   * would take a model out of service for all of them.
   */
  readonly request_faults: boolean;
}

export const DEFAULT_SIMULATOR_OPTIONS: SimulatorOptions = Object.freeze({
  ttft_ms: 0,
  tokens_per_second: 0,
  max_concurrency: 0,
  output_tokens: undefined,
  embedding_dimensions: 1024,
  usage: true,
  reasoning_field: 'reasoning_content',
  models: undefined,
  api_key: undefined,
  request_faults: true,
});

/** How one model behaves once name inference and configuration are combined. */
export interface ResolvedModel {
  readonly kind: SimModelKind;
  readonly reasoning: boolean;
  readonly dimensions: number;
  readonly matryoshka: boolean;
}

/** Listed by GET /v1/models when no `models` map is configured; one of each behaviour. */
export const DEFAULT_MODEL_NAMES = ['sim-chat', 'sim-r1', 'sim-embed'] as const;

const EMBEDDING_NAME = /embed|bge|m3e/i;
const REASONING_NAME = /r1|qwq|reason|think/i;

/** The model's behaviour, or undefined when `models` is configured and does not list it. */
export function resolveModel(options: SimulatorOptions, name: string): ResolvedModel | undefined {
  const models = options.models;
  const spec = models === undefined ? {} : Object.hasOwn(models, name) ? models[name] : undefined;
  if (spec === undefined) return undefined;
  const kind = spec.kind ?? (EMBEDDING_NAME.test(name) ? 'embedding' : 'chat');
  return {
    kind,
    reasoning: kind === 'chat' && (spec.reasoning ?? REASONING_NAME.test(name)),
    dimensions: spec.dimensions ?? options.embedding_dimensions,
    matryoshka: spec.matryoshka ?? true,
  };
}

export function modelNames(options: SimulatorOptions): readonly string[] {
  return options.models === undefined ? DEFAULT_MODEL_NAMES : Object.keys(options.models);
}

const MODEL_FIELDS = {
  kind: oneOf(MODEL_KINDS),
  reasoning: boolean,
  dimensions: positiveInteger,
  matryoshka: boolean,
} as const satisfies Record<keyof SimModelSpec, Checker<unknown>>;

function parseModels(value: unknown, field: string): Record<string, SimModelSpec> {
  const models: Record<string, SimModelSpec> = {};
  for (const [name, raw] of Object.entries(plainObject(value, field))) {
    const where = `${field}.${name}`;
    // `name: {}` and a bare `name:` (YAML null) both mean "infer everything from the name".
    const spec = raw === null ? {} : plainObject(raw, where);
    models[name] = Object.freeze(parseFields(spec, MODEL_FIELDS, where, 'simulator model field'));
  }
  if (Object.keys(models).length === 0) throw new Error(`${field} must list at least one model`);
  return Object.freeze(models);
}

const OPTION_FIELDS = {
  ttft_ms: nonNegativeNumber,
  tokens_per_second: nonNegativeNumber,
  max_concurrency: nonNegativeInteger,
  output_tokens: nonNegativeInteger,
  embedding_dimensions: positiveInteger,
  usage: boolean,
  reasoning_field: oneOf(REASONING_FIELDS),
  models: parseModels,
  api_key: nonEmptyString,
  request_faults: boolean,
} as const satisfies Record<keyof SimulatorOptions, Checker<unknown>>;

function nonEmptyString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${field} must be a non-empty string`);
  return value;
}

/** Validates a plain object (YAML provider block minus `type`, or CLI flags) into options. */
export function parseSimulatorOptions(raw: unknown, where: string): SimulatorOptions {
  const obj = raw === undefined || raw === null ? {} : plainObject(raw, where);
  const parsed = parseFields(obj, OPTION_FIELDS, where, 'simulator option');
  return Object.freeze({ ...DEFAULT_SIMULATOR_OPTIONS, ...parsed });
}
