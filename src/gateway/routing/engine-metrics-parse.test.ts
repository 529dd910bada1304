import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineReading, parseEngineGauges } from './engine-metrics-parse.ts';

/** What a vLLM V1 server (v0.10-ish, data parallel 2) serves at /metrics, abridged. */
const VLLM_V1 = `# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 13462.0
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen3-8B"} 12.0
vllm:num_requests_running{engine="1",model_name="Qwen/Qwen3-8B"} 11.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen3-8B"} 3.0
vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen3-8B"} 2.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen3-8B"} 0.8125
vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen3-8B"} 0.6875
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="Qwen/Qwen3-8B"} 1.234567e+06
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="Qwen/Qwen3-8B"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="Qwen/Qwen3-8B"} 5321.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="Qwen/Qwen3-8B"} 5321.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="Qwen/Qwen3-8B"} 812.4460470676422
`;

/** vLLM 0.6 (V0 engine): the KV gauge still had its old name, no engine label. */
const VLLM_V0 = `# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="/models/llama-2-7b"} 7.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="/models/llama-2-7b"} 0.97
# HELP vllm:cpu_cache_usage_perc CPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:cpu_cache_usage_perc gauge
vllm:cpu_cache_usage_perc{model_name="/models/llama-2-7b"} 0.0
`;

/** SGLang with --enable-metrics (recent label set). */
const SGLANG = `# HELP sglang:num_running_reqs The number of running requests.
# TYPE sglang:num_running_reqs gauge
sglang:num_running_reqs{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 36.0
# HELP sglang:token_usage The token usage.
# TYPE sglang:token_usage gauge
sglang:token_usage{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 0.28
# HELP sglang:num_queue_reqs The number of requests in the waiting queue.
# TYPE sglang:num_queue_reqs gauge
sglang:num_queue_reqs{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 4.0
# HELP sglang:cache_hit_rate The prefix cache hit rate.
# TYPE sglang:cache_hit_rate gauge
sglang:cache_hit_rate{engine_type="unified",model_name="meta-llama/Llama-3.1-8B-Instruct",moe_ep_rank="0",pp_rank="0",tp_rank="0"} 0.007507552643049313
`;

test('vLLM V1: waiting summed over data-parallel engines, KV usage averaged', () => {
  const samples = parseEngineGauges(VLLM_V1);
  assert.deepEqual(samples.map((s) => s.metric), ['vllm:num_requests_waiting', 'vllm:num_requests_waiting', 'vllm:kv_cache_usage_perc', 'vllm:kv_cache_usage_perc']);
  assert.deepEqual(engineReading(samples, 'Qwen/Qwen3-8B'), { waiting: 5, kvCacheUsage: 0.75 });
});

test('vLLM V0: the old gpu_cache_usage_perc name; a served name that differs from the label still reads', () => {
  const samples = parseEngineGauges(VLLM_V0);
  assert.deepEqual(engineReading(samples, '/models/llama-2-7b'), { waiting: 7, kvCacheUsage: 0.97 });
  // --served-model-name aliases and LoRA adapters do not appear in the label: all series count.
  assert.deepEqual(engineReading(samples, 'llama2-chat'), { waiting: 7, kvCacheUsage: 0.97 });
});

test('SGLang: num_queue_reqs and token_usage', () => {
  assert.deepEqual(engineReading(parseEngineGauges(SGLANG), 'meta-llama/Llama-3.1-8B-Instruct'), { waiting: 4, kvCacheUsage: 0.28 });
});

test('a server with several models: the deployment\'s own series wins', () => {
  const text = [
    'vllm:num_requests_waiting{model_name="a"} 9',
    'vllm:num_requests_waiting{model_name="b"} 1',
    'vllm:kv_cache_usage_perc{model_name="a"} 0.9',
    'vllm:kv_cache_usage_perc{model_name="b"} 0.1',
  ].join('\n');
  const samples = parseEngineGauges(text);
  assert.deepEqual(engineReading(samples, 'b'), { waiting: 1, kvCacheUsage: 0.1 });
  assert.deepEqual(engineReading(samples, 'c'), { waiting: 10, kvCacheUsage: 0.5 });
});

test('the simulator\'s unlabelled output, CRLF, timestamps, escapes, NaN and garbage', () => {
  const text = [
    '# TYPE vllm:num_requests_waiting gauge',
    'vllm:num_requests_waiting 2\r',
    'vllm:kv_cache_usage_perc{model_name="we\\"ird\\\\name\\n",engine="0"} 0.5 1732900000000',
    'vllm:kv_cache_usage_perc{model_name="x"} NaN',
    'vllm:num_requests_waiting{model_name="unterminated} 4',
    'vllm:num_requests_waiting',
    'sglang:token_usage{model_name="y"} +Inf',
    'vllm:num_requests_waiting_total 100',
  ].join('\n');
  const samples = parseEngineGauges(text);
  assert.deepEqual(samples, [
    { metric: 'vllm:num_requests_waiting', modelName: undefined, value: 2 },
    { metric: 'vllm:kv_cache_usage_perc', modelName: 'we"ird\\name\n', value: 0.5 },
  ]);
  assert.deepEqual(engineReading(samples, 'we"ird\\name\n'), { waiting: 2, kvCacheUsage: 0.5 });
});

test('text without the gauges gives no reading', () => {
  assert.equal(engineReading(parseEngineGauges('# nothing here\nprocess_cpu_seconds_total 3.5\n'), 'm'), undefined);
  assert.equal(engineReading(parseEngineGauges(''), 'm'), undefined);
  assert.deepEqual(engineReading(parseEngineGauges('vllm:num_requests_waiting 3'), 'm'), { waiting: 3, kvCacheUsage: 0 });
});
