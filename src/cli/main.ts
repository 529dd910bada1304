#!/usr/bin/env node
/**
 * `maas <command>`: one entry for the gateway and its tools. Each command lives in its own
 * module and is loaded only when called, so `maas sim` never loads the gateway and vice versa.
 */
const COMMANDS: Readonly<Record<string, { summary: string; run: (argv: string[]) => Promise<void> }>> = {
  start: {
    summary: 'run the gateway (configured by MAAS_* environment variables and MAAS_CONFIG)',
    run: async () => {
      await import('../main.ts');
    },
  },
  accounts: {
    summary: 'create, list, show and update accounts (tenants)',
    run: async (argv) => (await import('./tenancy-commands.ts')).runAccounts(argv),
  },
  keys: {
    summary: 'create, list and revoke API keys',
    run: async (argv) => (await import('./tenancy-commands.ts')).runKeys(argv),
  },
  credits: {
    summary: 'add credit to an account (top-up, refund, adjustment)',
    run: async (argv) => (await import('./billing-commands.ts')).runCredits(argv),
  },
  usage: {
    summary: 'usage and cost, filtered and grouped (table, --json, --csv)',
    run: async (argv) => (await import('./billing-commands.ts')).runUsage(argv),
  },
  ledger: {
    summary: 'ledger verify: every balance equals the sum of its ledger entries',
    run: async (argv) => (await import('./billing-commands.ts')).runLedger(argv),
  },
  deployments: {
    summary: 'list deployments with their health, restore one, delete a private one',
    run: async (argv) => (await import('./deployment-commands.ts')).runDeployments(argv),
  },
  sim: {
    summary: 'run the simulator engine as an OpenAI-compatible server (--port 18080)',
    run: async (argv) => (await import('./sim.ts')).runSim(argv),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: maas <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

const [name, ...argv] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(usage());
} else {
  const command = COMMANDS[name];
  if (command === undefined) {
    process.stderr.write(`maas: unknown command '${name}'\n\n${usage()}`);
    process.exitCode = 2;
  } else {
    try {
      await command.run(argv);
    } catch (err) {
      process.stderr.write(`maas ${name}: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}
