import type { RawConfig, RawProvider } from './schema.ts';

/**
 * The configuration used when MAAS_CONFIG is not set: the seeds' model names, all served by the
 * in-process simulator, so `npm start` works on a machine with no engine and no network.
 * Prices are illustrative (yuan per 1K tokens); megrez-7b-instruct shows one model on two chips.
 */
export const DEFAULT_CONFIG: RawConfig = {
  providers: {
    // Simulator engine options sit beside `type` (the schema allows provider-specific keys).
    // A client's `sim` field cannot inject faults here: these deployments serve every tenant.
    sim: { type: 'simulator', ttft_ms: 20, tokens_per_second: 200, request_faults: false } as RawProvider,
  },
  models: {
    'DeepSeek-R1': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.004', output: '0.016' } }],
    },
    'DeepSeek-V3': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.002', output: '0.008' } }],
    },
    'DeepSeek-R1-Distill-Qwen-32B': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.001', output: '0.004' } }],
    },
    'Qwen3-4B-Instruct': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.0003', output: '0.0006' } }],
    },
    'QwQ-32B': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.001', output: '0.004' } }],
    },
    'Qwen2-72B': {
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.004', output: '0.012' } }],
    },
    'megrez-7b-instruct': {
      deployments: [
        { provider: 'sim', chip: 'nvidia', price: { input: '0.0005', output: '0.001' } },
        { provider: 'sim', chip: 'ascend', price: { input: '0.0004', output: '0.0008' } },
      ],
    },
    'bge-m3': {
      kind: 'embedding',
      deployments: [{ provider: 'sim', chip: 'nvidia', price: { input: '0.0005', output: '0' } }],
    },
  },
};
