import { Pool } from 'undici';
import type { RawProvider } from '../../config/schema.ts';
import { ENDPOINT_PATHS, ENDPOINTS, type ProviderAdapter, type UpstreamRequest, type UpstreamResponse } from '../adapter.ts';
import { ProbeError } from '../probe-error.ts';
import { requestRaw } from './raw-request.ts';

/** TCP/TLS connect, when the provider sets no `timeouts.connect_ms` (the pool enforces it for all its deployments). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** A health probe reads at most this much of the model list before dropping the rest. */
const PROBE_BODY_LIMIT = 64 * 1024;

/**
 * Any engine or vendor that speaks the OpenAI API (vLLM, SGLang, llama.cpp server, Ollama,
 * DeepSeek, DashScope compatible mode, Gitee AI, Infini-AI…). The body is forwarded as is:
 * one pooled keep-alive connection set per provider, no fetch, no web streams and no Node
 * stream per response: undici's raw handler API (raw-request.ts).
 */
export function createOpenAICompatibleAdapter(name: string, config: RawProvider): ProviderAdapter {
  const base = new URL(config.base_url!);
  const basePath = base.pathname.replace(/\/+$/, '');
  const pool = new Pool(base.origin, {
    connections: config.max_connections ?? 256,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { timeout: config.timeouts?.connect_ms ?? DEFAULT_CONNECT_TIMEOUT_MS },
    // Every call runs under its deployment's own timers (gateway/routing/timeouts.ts: headers,
    // first token, idle, total, on the call's abort signal). undici's per-request timers would
    // only repeat them with the provider's values — cutting a deployment that was given longer —
    // and cost timer objects per request that its timer wheel keeps for up to a second.
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const fixedHeaders: Record<string, string> = { 'content-type': 'application/json', ...config.headers };
  if (config.api_key) fixedHeaders.authorization = `Bearer ${config.api_key}`;
  const paths = Object.fromEntries(ENDPOINTS.map((e) => [e, basePath + ENDPOINT_PATHS[e]])) as Record<string, string>;
  // The probe asks what every OpenAI-compatible server answers cheaply, with the same credentials
  // as traffic, so a revoked key shows up as 401 here before a customer's request meets it.
  const modelsPath = `${basePath}/models`;
  const probeHeaders: Record<string, string> = { ...config.headers, accept: 'application/json' };
  if (config.api_key) probeHeaders.authorization = `Bearer ${config.api_key}`;

  return {
    name,
    type: config.type,
    capabilities: new Set(ENDPOINTS),
    send(request: UpstreamRequest): Promise<UpstreamResponse> {
      const headers: Record<string, string> = { ...fixedHeaders, ...request.headers, 'x-request-id': request.requestId };
      const path = paths[request.endpoint]!;
      const body = JSON.stringify(request.body);
      if (request.stream) headers.accept = 'text/event-stream';
      return requestRaw(pool, { method: 'POST', path, headers, body }, request.signal, request.stream);
    },
    async probe(signal: AbortSignal): Promise<void> {
      const res = await pool.request({ method: 'GET', path: modelsPath, headers: probeHeaders, signal });
      // The answer itself does not matter, only that it came; drain it so the socket is reused.
      await res.body.dump({ limit: PROBE_BODY_LIMIT });
      if (res.statusCode < 200 || res.statusCode >= 300) throw new ProbeError(res.statusCode, `GET ${modelsPath} answered ${res.statusCode}`);
    },
    async close(): Promise<void> {
      await pool.close();
    },
  };
}
