/**
 * Reads the few gauges engine-aware balancing needs out of an engine's Prometheus text
 * exposition, without a general Prometheus parser: only lines of the wanted metrics are looked
 * at, and of their labels only `model_name`.
 *
 * vLLM:   vllm:num_requests_waiting, vllm:kv_cache_usage_perc (before v0.10:
 *         vllm:gpu_cache_usage_perc), labelled {engine="0",model_name="…"} (one series per
 *         data-parallel engine in V1).
 * SGLang: sglang:num_queue_reqs, sglang:token_usage, labelled {model_name="…",tp_rank=…,…}.
 */

export interface GaugeSample {
  readonly metric: string;
  /** The `model_name` label: the served model name, which is the deployment's upstream model. */
  readonly modelName: string | undefined;
  readonly value: number;
}

/** Requests queued inside the engine, in the order of preference. */
const WAITING_METRICS = ['vllm:num_requests_waiting', 'sglang:num_queue_reqs'] as const;
/** KV-cache (token pool) usage as a fraction, newest vLLM name first. */
const KV_METRICS = ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage'] as const;
const WANTED: ReadonlySet<string> = new Set<string>([...WAITING_METRICS, ...KV_METRICS]);

/** Every sample of the wanted gauges; comments, other metrics and unparsable lines are skipped. */
export function parseEngineGauges(text: string): GaugeSample[] {
  const samples: GaugeSample[] = [];
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    // Both prefixes start with 'v' or 's'; '#' comments and other metrics are skipped unread.
    const first = text.charCodeAt(pos);
    if (first === 0x76 || first === 0x73) {
      const sample = parseSample(text, pos, end);
      if (sample !== undefined) samples.push(sample);
    }
    pos = end + 1;
  }
  return samples;
}

function parseSample(text: string, start: number, end: number): GaugeSample | undefined {
  let i = start;
  while (i < end && text[i] !== '{' && text[i] !== ' ' && text[i] !== '\t') i++;
  const metric = text.slice(start, i);
  if (!WANTED.has(metric)) return undefined;
  let modelName: string | undefined;
  if (text[i] === '{') {
    const labels = parseLabels(text, i + 1, end);
    if (labels === undefined) return undefined;
    modelName = labels.modelName;
    i = labels.next;
  }
  while (i < end && (text[i] === ' ' || text[i] === '\t')) i++;
  let valueEnd = i;
  while (valueEnd < end && text[valueEnd] !== ' ' && text[valueEnd] !== '\t' && text[valueEnd] !== '\r') valueEnd++;
  // An optional timestamp may follow; NaN and ±Inf say nothing about load.
  const value = Number(text.slice(i, valueEnd));
  if (valueEnd === i || !Number.isFinite(value)) return undefined;
  return { metric, modelName, value };
}

/** Label pairs up to the closing brace; values may hold escaped quotes, backslashes and newlines. */
function parseLabels(text: string, start: number, end: number): { modelName: string | undefined; next: number } | undefined {
  let i = start;
  let modelName: string | undefined;
  for (;;) {
    while (i < end && (text[i] === ' ' || text[i] === ',')) i++;
    if (i >= end) return undefined;
    if (text[i] === '}') return { modelName, next: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq === -1 || eq >= end || text[eq + 1] !== '"') return undefined;
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < end && text[j] !== '"'; j++) {
      if (text[j] === '\\' && j + 1 < end) {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else {
        value += text[j];
      }
    }
    if (j >= end) return undefined;
    if (name === 'model_name') modelName = value;
    i = j + 1;
  }
}

export interface EngineReading {
  readonly waiting: number;
  readonly kvCacheUsage: number;
}

/**
 * One deployment's load from its engine's samples: requests waiting summed over the engine's
 * series (data-parallel engines each queue their own), KV-cache usage averaged over them (each
 * series is a fraction of its own engine's cache). When a series is labelled with the
 * deployment's upstream model, only those count: one server may serve several models.
 * Undefined when the text has neither gauge (not an engine this understands).
 */
export function engineReading(samples: readonly GaugeSample[], upstreamModel: string): EngineReading | undefined {
  const waiting = valuesOf(samples, WAITING_METRICS, upstreamModel);
  const kv = valuesOf(samples, KV_METRICS, upstreamModel);
  if (waiting === undefined && kv === undefined) return undefined;
  const queued = waiting === undefined ? 0 : waiting.reduce((a, b) => a + b, 0);
  const usage = kv === undefined ? 0 : kv.reduce((a, b) => a + b, 0) / kv.length;
  return { waiting: Math.max(0, queued), kvCacheUsage: Math.max(0, usage) };
}

/** The values of the first of `metrics` present, narrowed to the model's series when labelled so. */
function valuesOf(samples: readonly GaugeSample[], metrics: readonly string[], model: string): number[] | undefined {
  for (const metric of metrics) {
    const series = samples.filter((s) => s.metric === metric);
    if (series.length === 0) continue;
    const own = series.filter((s) => s.modelName === model);
    return (own.length > 0 ? own : series).map((s) => s.value);
  }
  return undefined;
}
