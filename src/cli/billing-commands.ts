import { parseArgs } from 'node:util';
import { CliError, type Json } from './admin-backend.ts';
import { backendFor } from './tenancy-commands.ts';
import { renderTable } from './table.ts';

const COMMON = { url: { type: 'string' }, 'admin-key': { type: 'string' }, json: { type: 'boolean' } } as const;

/** `maas credits add ACCOUNT AMOUNT --reason R [--kind topup|refund|adjustment]` */
export async function runCredits(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, reason: { type: 'string' }, kind: { type: 'string' } } });
  const [action, account, amount] = positionals;
  if (action !== 'add' || account === undefined || amount === undefined || values.reason === undefined) {
    throw new CliError('usage: maas credits add ACCOUNT AMOUNT --reason TEXT [--kind topup|refund|adjustment]  (AMOUNT in yuan, e.g. 12.5; --reason is required: it goes into the ledger)');
  }
  const backend = await backendFor(values);
  try {
    const body: Json = { amount, reason: values.reason, ...(values.kind ? { kind: values.kind } : {}) };
    const result = await backend.call('POST', `/admin/v1/accounts/${encodeURIComponent(account)}/credits`, body);
    process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `balance of ${account}: ${String(result.balance)} yuan\n`);
  } finally {
    await backend.close();
  }
}

/** `maas usage [--account A] [--key K] [--model M] [--chip C] [--from T] [--to T] [--group-by day,model] [--json|--csv]` */
export async function runUsage(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...COMMON,
      csv: { type: 'boolean' },
      account: { type: 'string' },
      key: { type: 'string' },
      model: { type: 'string' },
      chip: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'group-by': { type: 'string' },
    },
  });
  const params = new URLSearchParams();
  const set = (name: string, value: string | undefined): void => {
    if (value !== undefined) params.set(name, value);
  };
  set('account_id', values.account);
  set('key_id', values.key);
  set('model', values.model);
  set('chip', values.chip);
  set('from', values.from);
  set('to', values.to);
  set('group_by', values['group-by']);
  const backend = await backendFor(values);
  try {
    if (values.csv) {
      params.set('format', 'csv');
      process.stdout.write(await backend.text(`/admin/v1/usage?${params}`));
      return;
    }
    const result = await backend.call('GET', `/admin/v1/usage?${params}`);
    if (values.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const groups = (values['group-by'] ?? '').split(',').filter((g) => g.length > 0);
    const columns = [...groups, 'requests', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cost'];
    const totals = result.totals as Json;
    // Ungrouped, the one data row IS the total: print it once. Grouped, a TOTAL line closes the groups.
    const rows = groups.length === 0 ? [totals] : [...(result.data as Json[]), { ...totals, [groups[0]!]: 'TOTAL' }];
    process.stdout.write(renderTable(rows, columns));
  } finally {
    await backend.close();
  }
}

/** `maas ledger verify`: every account's balance equals the sum of its ledger; exit 1 if not. */
export async function runLedger(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: COMMON });
  if (positionals[0] !== 'verify') throw new CliError('usage: maas ledger verify [--json]');
  const backend = await backendFor(values);
  try {
    const report = await backend.call('GET', '/admin/v1/ledger/verify');
    const accounts = report.accounts as Json[];
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(renderTable(accounts, ['account_id', 'balance', 'ledger_sum', 'held', 'open_holds', 'ok']));
      process.stdout.write(report.ok ? `ledger verified: ${accounts.length} accounts, every balance equals the sum of its entries\n` : 'LEDGER MISMATCH\n');
    }
    if (!report.ok) process.exitCode = 1;
  } finally {
    await backend.close();
  }
}
