/**
 * The billing contract between the data plane (hold before dispatch, settle after) and the
 * store. All money is bigint nano-yuan (see money.ts); prices are nano-yuan per 1,000 tokens.
 */
export interface PriceSnapshot {
  /** Nano-yuan per 1K prompt tokens. */
  readonly input: bigint;
  /** Nano-yuan per 1K completion tokens. */
  readonly output: bigint;
  /** Nano-yuan per 1K cached prompt tokens; null = cached tokens cost `input`. */
  readonly cachedInput: bigint | null;
}

/** Everything known before dispatch; written durably before the upstream is called. */
export interface HoldRequest {
  readonly requestId: string;
  readonly accountId: string;
  readonly keyId: string;
  readonly model: string;
  readonly chip: string;
  readonly deploymentId: string;
  readonly provider: string;
  /** The most this request can cost. */
  readonly amount: bigint;
  /** null = the deployment is free. */
  readonly price: PriceSnapshot | null;
  readonly startedAt: number;
}

export type HoldResult =
  /** `balance`: the account's balance as the hold committed (the hold itself does not change it). */
  | { readonly ok: true; readonly available: bigint; readonly balance: bigint }
  | { readonly ok: false; readonly available: bigint };

export type UsageStatus = 'ok' | 'error' | 'aborted' | 'cut' | 'unsettled';

/** What happened, known after the response (or the stream's end, abort or failure). */
export interface Settlement {
  readonly requestId: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly cost: bigint;
  readonly status: UsageStatus;
  readonly httpStatus: number;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly endedAt: number;
}

export type LedgerKind = 'topup' | 'refund' | 'adjustment' | 'usage';

export interface LedgerEntry {
  readonly id: string;
  readonly accountId: string;
  readonly kind: LedgerKind;
  /** Positive for credits, negative for debits. */
  readonly amount: bigint;
  readonly balanceAfter: bigint;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly createdAt: number;
}

export interface UsageRecord {
  readonly requestId: string;
  readonly accountId: string;
  readonly keyId: string;
  readonly model: string;
  readonly chip: string;
  readonly deploymentId: string;
  readonly provider: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly cost: bigint;
  readonly price: PriceSnapshot | null;
  readonly status: UsageStatus;
  readonly httpStatus: number;
  readonly latencyMs: number;
  readonly ttftMs: number | null;
  readonly startedAt: number;
  readonly endedAt: number;
}

export interface UsageQuery {
  readonly accountId?: string;
  readonly keyId?: string;
  readonly model?: string;
  readonly chip?: string;
  /** Epoch ms, inclusive / exclusive. */
  readonly from?: number;
  readonly to?: number;
  readonly groupBy?: ReadonlyArray<'day' | 'hour' | 'model' | 'chip' | 'key'>;
}

export interface UsageGroup {
  /** Values of the group-by dimensions (day/hour as ISO strings). */
  readonly group: Readonly<Record<string, string>>;
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly cachedTokens: number;
  readonly cost: bigint;
}

export interface VerifyReport {
  readonly accountId: string;
  readonly balance: bigint;
  readonly ledgerSum: bigint;
  readonly held: bigint;
  readonly openHolds: bigint;
  readonly ok: boolean;
}

/** The billing store: one implementation on Kysely, for SQLite and PostgreSQL alike. */
export interface BillingStore {
  /** Atomically reserves `amount` if balance − held ≥ amount, and records the hold durably. */
  placeHold(hold: HoldRequest): Promise<HoldResult>;
  /** Releases the hold, debits the cost, writes the ledger entry and the usage record, in one transaction. Resolves with the balance after. */
  settle(settlement: Settlement): Promise<{ readonly balance: bigint }>;
  credit(accountId: string, amount: bigint, kind: Exclude<LedgerKind, 'usage'>, reason: string): Promise<{ readonly balance: bigint }>;
  ledger(accountId: string, options?: { limit?: number }): Promise<LedgerEntry[]>;
  usage(query: UsageQuery): Promise<UsageGroup[]>;
  usageRecords(query: UsageQuery & { limit?: number }): Promise<UsageRecord[]>;
  /** Resolves once every hold, settlement and credit submitted so far is durable (or failed): before the store closes. */
  settled(): Promise<void>;
  /**
   * Holds left open by a process that stopped are settled at their held amount, status
   * 'unsettled': those placed at least `minAgeMs` before `now` (0: every open hold).
   */
  recoverOpenHolds(now: number, minAgeMs?: number): Promise<number>;
  verify(): Promise<VerifyReport[]>;
}
