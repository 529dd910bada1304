import { parseArgs } from 'node:util';
import { CliError, httpBackend, localBackend, type AdminBackend, type Json } from './admin-backend.ts';
import { isoTime, renderTable } from './table.ts';

const COMMON = {
  url: { type: 'string' },
  'admin-key': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const ACCOUNT_COLUMNS = ['id', 'name', 'plan', 'status', 'balance', 'created'] as const;
const KEY_COLUMNS = ['id', 'prefix', 'account_id', 'name', 'models', 'limits', 'expires', 'revoked', 'created'] as const;

const USAGE = `usage:
  maas accounts create --name NAME --plan PLAN
  maas accounts list
  maas accounts show ID
  maas accounts update ID [--name NAME] [--plan PLAN] [--status active|suspended]
  maas keys create --account ID [--name NAME] [--models a,b] [--expires-at 2027-01-01T00:00:00Z] [--rpm N] [--tpm N] [--concurrency N]
  maas keys list [--account ID]
  maas keys revoke ID

options: --json (machine-readable output)
  --url URL --admin-key KEY   talk to a running gateway (or MAAS_URL / MAAS_ADMIN_KEY)
  without --url               edit the local store (MAAS_DATA_DIR, MAAS_DATABASE_URL, MAAS_CONFIG)
`;

export async function backendFor(values: { url?: string; 'admin-key'?: string }): Promise<AdminBackend> {
  const url = values.url ?? process.env.MAAS_URL;
  if (url === undefined) return localBackend(process.env);
  const key = values['admin-key'] ?? process.env.MAAS_ADMIN_KEY;
  if (key === undefined) throw new CliError('--url needs --admin-key (or MAAS_ADMIN_KEY)');
  return httpBackend(url, key);
}

function output(result: Json, json: boolean | undefined, columns: readonly string[], note?: string): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const rows = result.object === 'list' ? (result.data as Json[]) : [result];
  process.stdout.write(renderTable(rows.map(displayRow), columns));
  if (note) process.stdout.write(note);
}

function displayRow(row: Json): Json {
  return { ...row, created: isoTime(row.created_at), expires: isoTime(row.expires_at), revoked: isoTime(row.revoked_at) };
}

function intFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  // Digits only: Number('') is 0 (which means unlimited), and '0x10' or '1e3' are not what anyone types.
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new CliError(`--${flag} must be a non-negative integer, got '${value}'`);
  return Number(value);
}

/** Every account, page after page (the API answers at most 1,000 at a time). */
async function allAccounts(backend: AdminBackend): Promise<Json> {
  const data: Json[] = [];
  for (let offset = 0; ; ) {
    const page = await backend.call('GET', `/admin/v1/accounts?offset=${offset}`);
    const rows = page.data as Json[];
    data.push(...rows);
    if (page.has_more !== true || rows.length === 0) return { object: 'list', data };
    offset += rows.length;
  }
}

export async function runAccounts(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...COMMON, name: { type: 'string' }, plan: { type: 'string' }, status: { type: 'string' } },
  });
  const [action, id] = positionals;
  const backend = await backendFor(values);
  try {
    switch (action) {
      case 'create':
        return output(await backend.call('POST', '/admin/v1/accounts', { name: values.name, plan: values.plan }), values.json, ACCOUNT_COLUMNS);
      case 'list':
        return output(await allAccounts(backend), values.json, ACCOUNT_COLUMNS);
      case 'show':
        return output(await backend.call('GET', `/admin/v1/accounts/${encodeURIComponent(required(id, 'ID'))}`), values.json, ACCOUNT_COLUMNS);
      case 'update': {
        const patch: Json = {};
        for (const field of ['name', 'plan', 'status'] as const) if (values[field] !== undefined) patch[field] = values[field];
        return output(await backend.call('PATCH', `/admin/v1/accounts/${encodeURIComponent(required(id, 'ID'))}`, patch), values.json, ACCOUNT_COLUMNS);
      }
      default:
        throw new CliError(`unknown action '${action ?? ''}'\n\n${USAGE}`);
    }
  } finally {
    await backend.close();
  }
}

export async function runKeys(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMON,
      account: { type: 'string' },
      name: { type: 'string' },
      models: { type: 'string' },
      'expires-at': { type: 'string' },
      rpm: { type: 'string' },
      tpm: { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
  const [action, id] = positionals;
  const backend = await backendFor(values);
  try {
    switch (action) {
      case 'create': {
        const limits = { rpm: intFlag(values.rpm, 'rpm'), tpm: intFlag(values.tpm, 'tpm'), concurrency: intFlag(values.concurrency, 'concurrency') };
        const hasLimits = Object.values(limits).some((v) => v !== undefined);
        const body: Json = {
          account_id: values.account,
          ...(values.name !== undefined ? { name: values.name } : {}),
          ...(values.models !== undefined ? { models: values.models.split(',').map((m) => m.trim()) } : {}),
          ...(values['expires-at'] !== undefined ? { expires_at: values['expires-at'] } : {}),
          ...(hasLimits ? { limits: JSON.parse(JSON.stringify(limits)) as Json } : {}),
        };
        const created = await backend.call('POST', '/admin/v1/keys', body);
        return output(created, values.json, KEY_COLUMNS, `\nkey: ${String(created.key)}\n(shown once: store it now)\n`);
      }
      case 'list': {
        const query = values.account !== undefined ? `?account_id=${encodeURIComponent(values.account)}` : '';
        return output(await backend.call('GET', `/admin/v1/keys${query}`), values.json, KEY_COLUMNS);
      }
      case 'revoke':
        return output(await backend.call('DELETE', `/admin/v1/keys/${encodeURIComponent(required(id, 'ID'))}`), values.json, KEY_COLUMNS);
      default:
        throw new CliError(`unknown action '${action ?? ''}'\n\n${USAGE}`);
    }
  } finally {
    await backend.close();
  }
}

function required(value: string | undefined, name: string): string {
  if (value === undefined) throw new CliError(`missing ${name}\n\n${USAGE}`);
  return value;
}
