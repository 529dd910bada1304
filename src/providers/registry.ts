import type { RawProvider } from '../config/schema.ts';
import { ConfigError } from '../config/errors.ts';
import type { ProviderAdapter } from './adapter.ts';
import { createOpenAICompatibleAdapter } from './openai-compatible/adapter.ts';
import { createSimulatorAdapter } from './simulator/adapter.ts';
import { parseSimulatorOptions } from './simulator/options.ts';

type AdapterFactory = (name: string, config: RawProvider) => ProviderAdapter;

const openaiCompatible: AdapterFactory = createOpenAICompatibleAdapter;

/**
 * The one table from provider `type` to adapter. Engines and vendors that speak the OpenAI API
 * share one adapter; their names stay distinct so `X-AI-Provider` and the console can show them.
 */
export const PROVIDER_TYPES: Readonly<Record<string, AdapterFactory>> = Object.freeze({
  openai: openaiCompatible,
  vllm: openaiCompatible,
  sglang: openaiCompatible,
  llamacpp: openaiCompatible,
  ollama: openaiCompatible,
  deepseek: openaiCompatible,
  qwen: openaiCompatible,
  dashscope: openaiCompatible,
  gitee: openaiCompatible,
  infini: openaiCompatible,
  simulator: (name, config) => {
    const { type: _type, ...options } = config;
    return createSimulatorAdapter(name, parseSimulatorOptions(options, `providers.${name}`));
  },
});

export function createAdapter(name: string, config: RawProvider): ProviderAdapter {
  const factory = PROVIDER_TYPES[config.type];
  if (factory === undefined) {
    throw new ConfigError(
      `providers.${name}.type`,
      `unknown provider type '${config.type}' (known: ${Object.keys(PROVIDER_TYPES).join(', ')})`,
    );
  }
  return factory(name, config);
}
