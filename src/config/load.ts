import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ConfigSchema, type Plan, type RawConfig, type RawModel, type RawProvider, type RawRouting } from './schema.ts';
import { DEFAULT_CONFIG } from './defaults.ts';
import { ConfigError } from './errors.ts';
import { interpolateEnv } from './interpolate.ts';

export interface ServerSettings {
  readonly host: string;
  readonly port: number;
  readonly bodyLimit: number;
  readonly shutdownTimeoutMs: number;
  readonly accessLog: boolean;
  /** Web origins whose pages may read responses (CORS); `*` for any, empty for none. */
  readonly corsOrigins: readonly string[];
  /** Holds before dispatch, settlement and usage records. Off only for benchmarks or free gateways. */
  readonly billing: boolean;
}

export interface RoutingSettings {
  /** Deployments tried per request, the first included. */
  readonly attempts: number;
  readonly failureThreshold: number;
  readonly failureWindowMs: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  readonly probeIntervalMs: number;
  readonly metricsIntervalMs: number;
}

export interface GatewayConfig {
  readonly source: string;
  readonly server: ServerSettings;
  readonly routing: RoutingSettings;
  readonly providers: Readonly<Record<string, RawProvider>>;
  readonly models: Readonly<Record<string, RawModel>>;
  /** The built-in plans (basic, enterprise) with the config's `plans:` merged over them. */
  readonly plans: Readonly<Record<string, Plan>>;
  readonly databaseUrl: string | undefined;
  readonly adminKey: string | undefined;
  readonly dataDir: string;
  readonly logLevel: string;
}

const checkConfig = TypeCompiler.Compile(ConfigSchema);

const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;

/** Seed 000's plans: basic 60 RPM / 10,000 TPM; enterprise 1,000+ RPM. */
export const BUILT_IN_PLANS: Readonly<Record<string, Plan>> = Object.freeze({
  basic: { rpm: 60, tpm: 10_000, concurrency: 4 },
  enterprise: { rpm: 1_000, tpm: 1_000_000, concurrency: 64 },
});

/** Loads the configuration from the environment (and MAAS_CONFIG's YAML file, if set). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const source = env.MAAS_CONFIG ? resolve(env.MAAS_CONFIG) : 'built-in default';
  const raw = env.MAAS_CONFIG ? readYaml(source, env) : DEFAULT_CONFIG;
  const config = validateConfig(raw);
  const server = config.server ?? {};
  return deepFreeze({
    source,
    server: {
      host: env.MAAS_HOST || server.host || '127.0.0.1',
      port: envInt(env, 'MAAS_PORT', 0, 65535) ?? server.port ?? 9090,
      bodyLimit: envInt(env, 'MAAS_BODY_LIMIT', 1024, 2 ** 31) ?? server.body_limit ?? DEFAULT_BODY_LIMIT,
      shutdownTimeoutMs: envInt(env, 'MAAS_SHUTDOWN_TIMEOUT_MS', 0, 2 ** 31) ?? server.shutdown_timeout_ms ?? 30_000,
      accessLog: env.MAAS_ACCESS_LOG ? envFlag(env.MAAS_ACCESS_LOG) : server.access_log ?? false,
      corsOrigins: env.MAAS_CORS_ORIGINS !== undefined ? envList(env.MAAS_CORS_ORIGINS) : server.cors_origins ?? ['*'],
      billing: env.MAAS_BILLING ? envFlag(env.MAAS_BILLING) : server.billing ?? true,
    },
    routing: routingSettings(config.routing ?? {}),
    providers: config.providers,
    models: config.models,
    plans: { ...BUILT_IN_PLANS, ...config.plans },
    databaseUrl: env.MAAS_DATABASE_URL || undefined,
    adminKey: env.MAAS_ADMIN_KEY || undefined,
    dataDir: resolve(env.MAAS_DATA_DIR || './data'),
    logLevel: env.MAAS_LOG_LEVEL || 'info',
  });
}

function readYaml(path: string, env: NodeJS.ProcessEnv): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('MAAS_CONFIG', `cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError('MAAS_CONFIG', `${path} is not valid YAML: ${(err as Error).message}`);
  }
  return interpolateEnv(parsed, env);
}

function routingSettings(raw: RawRouting): RoutingSettings {
  return {
    attempts: raw.attempts ?? 3,
    failureThreshold: raw.failure_threshold ?? 3,
    failureWindowMs: raw.failure_window_ms ?? 30_000,
    cooldownMs: raw.cooldown_ms ?? 5_000,
    maxCooldownMs: raw.max_cooldown_ms ?? 300_000,
    probeIntervalMs: raw.probe_interval_ms ?? 10_000,
    metricsIntervalMs: raw.metrics_interval_ms ?? 2_000,
  };
}

/** Schema check first, then the cross-references a schema cannot express. */
export function validateConfig(raw: unknown): RawConfig {
  const first = checkConfig.Errors(raw).First();
  if (first !== undefined) throw new ConfigError(fieldPath(first.path), first.message.toLowerCase());
  const config = raw as RawConfig;
  const deploymentIds = new Set<string>();
  for (const [name, model] of Object.entries(config.models)) {
    model.deployments.forEach((deployment, i) => {
      if (deployment.timeouts?.connect_ms !== undefined) {
        throw new ConfigError(`models.${name}.deployments[${i}].timeouts.connect_ms`, "set it on the provider: deployments share their provider's connections");
      }
      if (deployment.id !== undefined) {
        const field = `models.${name}.deployments[${i}].id`;
        // mif- ids belong to accounts' private deployments, created at run time.
        if (deployment.id.startsWith('mif-')) throw new ConfigError(field, "the prefix 'mif-' is reserved for private deployments");
        if (deploymentIds.has(deployment.id)) throw new ConfigError(field, `duplicate deployment id '${deployment.id}'`);
        deploymentIds.add(deployment.id);
      }
      if (config.providers[deployment.provider] === undefined) {
        const known = Object.keys(config.providers).join(', ') || 'none';
        throw new ConfigError(
          `models.${name}.deployments[${i}].provider`,
          `unknown provider '${deployment.provider}' (configured providers: ${known})`,
        );
      }
    });
  }
  for (const [name, plan] of Object.entries(config.plans ?? {})) {
    plan.models?.forEach((model, i) => {
      if (config.models[model] === undefined) throw new ConfigError(`plans.${name}.models[${i}]`, `unknown model '${model}'`);
    });
  }
  for (const [name, provider] of Object.entries(config.providers)) {
    if (provider.type !== 'simulator' && provider.base_url === undefined) {
      throw new ConfigError(`providers.${name}.base_url`, `required for provider type '${provider.type}'`);
    }
  }
  return config;
}

/** '/models/DeepSeek-R1/deployments/0/provider' → 'models.DeepSeek-R1.deployments[0].provider' */
export function fieldPath(pointer: string): string {
  let out = '';
  for (const segment of pointer.split('/').slice(1)) {
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out === '' ? key : `.${key}`;
  }
  return out;
}

function envFlag(text: string): boolean {
  return text !== '0' && text !== 'false' && text !== 'off';
}

/** A comma-separated list; empty (or only commas and spaces) is the empty list. */
function envList(text: string): string[] {
  return text.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
}

function envInt(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(name, `must be an integer from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
