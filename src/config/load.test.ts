import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';
import { resolveTimeouts } from '../gateway/routing/timeouts.ts';

const configDir = mkdtempSync(join(tmpdir(), 'maas-cfg-'));
after(() => rmSync(configDir, { recursive: true, force: true }));
let configs = 0;

function withConfig(yaml: string, env: Record<string, string> = {}) {
  const path = join(configDir, `config-${configs++}.yaml`);
  writeFileSync(path, yaml);
  return () => loadConfig({ MAAS_CONFIG: path, ...env });
}

function failsOn(load: () => unknown, field: string): void {
  assert.throws(load, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.field, field);
    assert.ok(err.message.startsWith(field), err.message);
    return true;
  });
}

test('the built-in default serves the seed models on the simulator', () => {
  const config = loadConfig({});
  assert.equal(config.source, 'built-in default');
  assert.equal(config.server.port, 9090);
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.server.bodyLimit, 20 * 1024 * 1024);
  for (const model of ['DeepSeek-R1', 'Qwen3-4B-Instruct', 'QwQ-32B', 'bge-m3']) assert.ok(config.models[model], model);
  assert.equal(config.providers.sim?.type, 'simulator');
});

test('the issue example loads, with ${ENV} secrets interpolated', () => {
  const config = withConfig(
    `providers:
  deepseek: { type: openai, base_url: https://api.deepseek.com/v1, api_key: "\${DEEPSEEK_API_KEY}" }
  sim:      { type: simulator }
models:
  DeepSeek-R1:
    deployments:
      - { provider: deepseek, upstream_model: deepseek-reasoner, chip: nvidia, price: { input: "0.004", output: "0.016" } }
`,
    { DEEPSEEK_API_KEY: 'sk-secret', MAAS_PORT: '8080' },
  )();
  assert.equal(config.providers.deepseek?.api_key, 'sk-secret');
  assert.equal(config.models['DeepSeek-R1']?.deployments[0]?.upstream_model, 'deepseek-reasoner');
  assert.equal(config.server.port, 8080);
});

test('errors name the bad field', () => {
  failsOn(withConfig('providers:\n  p: { type: openai, base_url: "${MISSING_KEY_VAR}" }\nmodels: {}\n'), 'providers.p.base_url');
  failsOn(withConfig('providers: {}\nmodels:\n  m:\n    deployments:\n      - { provider: nope }\n'), 'models.m.deployments[0].provider');
  failsOn(withConfig('providers:\n  p: { type: openai, base_url: "http://x" }\nmodels:\n  m:\n    deployments:\n      - { provider: p, price: { input: "cheap", output: "1" } }\n'), 'models.m.deployments[0].price.input');
  failsOn(withConfig('providers:\n  p: { type: openai }\nmodels: {}\n'), 'providers.p.base_url');
  failsOn(withConfig('providers: {}\nmodels:\n  m: { deployments: [] }\n'), 'models.m.deployments');
  failsOn(withConfig('providers: {}\nmodels: {}\nextra: 1\n'), 'extra');
  failsOn(withConfig('providers: [\n'), 'MAAS_CONFIG');
  failsOn(() => loadConfig({ MAAS_PORT: 'eighty' }), 'MAAS_PORT');
  const p = 'providers:\n  p: { type: openai, base_url: "http://x" }\n';
  failsOn(withConfig(`${p}models:\n  m:\n    deployments:\n      - { provider: p, id: a }\n      - { provider: p, id: a }\n`), 'models.m.deployments[1].id');
  failsOn(withConfig(`${p}models:\n  m:\n    deployments:\n      - { provider: p, id: mif-abc }\n`), 'models.m.deployments[0].id');
  failsOn(withConfig(`${p}models:\n  m:\n    deployments:\n      - { provider: p, timeouts: { idle_ms: 0 } }\n`), 'models.m.deployments[0].timeouts.idle_ms');
  failsOn(withConfig(`${p}routing: { attempts: 0 }\nmodels: {}\n`), 'routing.attempts');
  failsOn(withConfig(`${p}models:\n  m:\n    deployments:\n      - { provider: p, timeouts: { connect_ms: 5 } }\n`), 'models.m.deployments[0].timeouts.connect_ms');
});

test('routing settings and per-deployment timeouts have defaults and take the config’s values', () => {
  const config = withConfig('providers:\n  p: { type: openai, base_url: "http://x", timeouts: { idle_ms: 5000 } }\nrouting: { attempts: 2, cooldown_ms: 100 }\nmodels:\n  m:\n    deployments:\n      - { provider: p, timeouts: { first_token_ms: 700 } }\n')();
  assert.equal(config.routing.attempts, 2);
  assert.equal(config.routing.cooldownMs, 100);
  assert.equal(config.routing.failureThreshold, 3);
  const timeouts = resolveTimeouts(config.providers.p?.timeouts, config.models.m?.deployments[0]?.timeouts);
  assert.deepEqual({ first: timeouts.firstTokenMs, idle: timeouts.idleMs, total: timeouts.totalMs }, { first: 700, idle: 5000, total: 600_000 });
});

test('${NAME:-default} falls back when the variable is unset', () => {
  const config = withConfig('providers:\n  p: { type: openai, base_url: "${BASE:-http://127.0.0.1:8000/v1}" }\nmodels: {}\n')();
  assert.equal(config.providers.p?.base_url, 'http://127.0.0.1:8000/v1');
});
