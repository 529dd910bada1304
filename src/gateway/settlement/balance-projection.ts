interface AccountView {
  /** The balance the newest committed hold or settlement of this account returned. */
  committed: bigint;
  /** Costs of settlements submitted but not yet committed. */
  pending: bigint;
  /** Billing sessions between their hold's commit and their settlement's: the view lives as long as one does. */
  open: number;
}

/**
 * What an account's balance will be once the settlements in flight commit, as this process
 * knows it: the x-maas-balance of a non-streamed answer, which leaves before its own settlement
 * is durable (its hold is; see docs/billing.md). Holds and settlements resolve in commit order,
 * so the last balance one returned is the newest; what is charged but not committed is added
 * up. Exact while one process serves the account; another process's charges and credits show
 * from this process's next commit for the account on. Only accounts with a request in flight
 * are kept.
 */
export class BalanceProjection {
  readonly #accounts = new Map<string, AccountView>();

  /** A hold committed; `balance` is what it returned. */
  opened(accountId: string, balance: bigint): void {
    const view = this.#accounts.get(accountId);
    if (view === undefined) {
      this.#accounts.set(accountId, { committed: balance, pending: 0n, open: 1 });
      return;
    }
    view.committed = balance;
    view.open++;
  }

  /** That session's settlement of `cost` was submitted. Returns the balance once every charge in flight commits. */
  charging(accountId: string, cost: bigint): bigint | undefined {
    const view = this.#accounts.get(accountId);
    if (view === undefined) return undefined;
    view.pending += cost;
    return view.committed - view.pending;
  }

  /** The settlement committed with `balance` after it, or failed (`balance` undefined: the hold stays for recovery). */
  charged(accountId: string, cost: bigint, balance: bigint | undefined): void {
    const view = this.#accounts.get(accountId);
    if (view === undefined) return;
    view.pending -= cost;
    if (balance !== undefined) view.committed = balance;
    if (--view.open === 0) this.#accounts.delete(accountId);
  }
}
