import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { parseSimulatorOptions, type SimulatorOptions } from '../providers/simulator/options.ts';
import { startSimulatorServer } from '../providers/simulator/server.ts';

const USAGE = `Usage: maas sim [options]

Runs the inference simulator: an OpenAI-compatible engine that answers like vLLM.

  --host <host>                  listen address (default 127.0.0.1)
  --port <port>                  listen port, 0 = any free port (default 18080)
  --ttft-ms <ms>                 time to first token (default 0)
  --tps <n>                      tokens per second per request, 0 = unpaced (default 0)
  --max-concurrency <n>          requests generating at once, beyond it they queue (default 0 = unlimited)
  --output-tokens <n>            fixed answer length (default 16..48, from the seed)
  --embedding-dimensions <n>     embedding size (default 1024)
  --no-usage                     never report usage
  --no-request-faults            ignore the per-request \`sim\` field (server-wide /sim/faults still work)
  --reasoning-field <name>       reasoning_content (default) or reasoning
  --api-key <key>                like vLLM's --api-key: /v1 routes answer 401 without this bearer key
  --config <file.yaml>           simulator options (snake_case keys); flags override it
`;

const FLAGS = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '18080' },
  'ttft-ms': { type: 'string' },
  tps: { type: 'string' },
  'max-concurrency': { type: 'string' },
  'output-tokens': { type: 'string' },
  'embedding-dimensions': { type: 'string' },
  'no-usage': { type: 'boolean' },
  'no-request-faults': { type: 'boolean' },
  'reasoning-field': { type: 'string' },
  'api-key': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Numeric flags and the option each one sets. */
const NUMERIC_FLAGS = {
  'ttft-ms': 'ttft_ms',
  tps: 'tokens_per_second',
  'max-concurrency': 'max_concurrency',
  'output-tokens': 'output_tokens',
  'embedding-dimensions': 'embedding_dimensions',
} as const;

function numberFlag(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`--${flag} must be a number, got '${value}'`);
  return n;
}

async function readConfig(path: string): Promise<Record<string, unknown>> {
  const parsed: unknown = parseYaml(await readFile(path, 'utf8'));
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${path} must hold a mapping of simulator options`);
  return parsed as Record<string, unknown>;
}

/** The config file's options, overridden by flags, validated as one object. */
async function optionsFrom(values: { [K in keyof typeof FLAGS]?: string | boolean }): Promise<SimulatorOptions> {
  const raw: Record<string, unknown> = typeof values.config === 'string' ? await readConfig(values.config) : {};
  for (const [flag, key] of Object.entries(NUMERIC_FLAGS)) {
    const value = values[flag as keyof typeof NUMERIC_FLAGS];
    if (typeof value === 'string') raw[key] = numberFlag(value, flag);
  }
  if (values['no-usage'] === true) raw.usage = false;
  if (values['no-request-faults'] === true) raw.request_faults = false;
  if (typeof values['reasoning-field'] === 'string') raw.reasoning_field = values['reasoning-field'];
  if (typeof values['api-key'] === 'string') raw.api_key = values['api-key'];
  return parseSimulatorOptions(raw, typeof values.config === 'string' ? values.config : 'sim');
}

/** `maas sim`: serve the simulator until SIGTERM or SIGINT. Throws on bad flags or config. */
export async function runSim(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false });
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const port = numberFlag(values.port, 'port');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got '${values.port}'`);
  const options = await optionsFrom(values);
  const server = await startSimulatorServer({ host: values.host, port, options });
  // Tests and scripts wait for exactly this line.
  console.log(`maas sim listening on ${server.url}`);

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      server.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  process.exitCode = 0;
}
