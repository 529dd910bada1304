import { sql, type CompiledQuery, type RawBuilder } from 'kysely';

/**
 * Statements compiled once. Kysely builds an operation tree and compiles it to SQL on every
 * call, which costs more CPU than SQLite takes to run a small statement; the hot billing
 * statements are therefore written as `sql` templates whose parameters are numbered slots
 * (`arg(0)`, `arg(1)`…), compiled once per database (so each dialect gets its own
 * placeholders: `?` on SQLite, `$1` on PostgreSQL), and executed through Kysely's public
 * `executeQuery` with the values filled in. The SQL text is then the same string object on every
 * call: the SQLite adapter's statement cache finds its prepared statement without rehashing it.
 */
class Slot {
  readonly index: number;
  constructor(index: number) {
    this.index = index;
  }
}

/** What compiles a statement: a Kysely instance (its dialect). */
export type Compiler = Parameters<RawBuilder<unknown>['compile']>[0];
/**
 * A store operation written once for every way of running it: it yields each query it needs and
 * is resumed with that query's rows. The group commit drives it synchronously on SQLite (no
 * promise per statement) and with `await` on PostgreSQL; see group-commit.ts.
 */
export type Step<T> = Generator<CompiledQuery, T, readonly unknown[]>;

/** Parameter slot `index` of a statement: the value passed at that position when it runs. */
export function arg(index: number): RawBuilder<unknown> {
  return sql`${new Slot(index)}`;
}

/** The compiled SQL and, for each placeholder in it, which argument fills it. */
interface Compiled {
  readonly query: CompiledQuery;
  /** null: placeholder i takes argument i. */
  readonly order: readonly number[] | null;
  readonly arity: number;
}

function compile(db: Compiler, template: RawBuilder<unknown>): Compiled {
  const query = template.compile(db);
  const order = query.parameters.map((p) => {
    if (!(p instanceof Slot)) throw new Error(`a prepared statement takes its values through arg(i), not inline: ${query.sql}`);
    return p.index;
  });
  const arity = order.length === 0 ? 0 : Math.max(...order) + 1;
  for (let i = 0; i < arity; i++) if (!order.includes(i)) throw new Error(`argument ${i} is never used in: ${query.sql}`);
  const identity = order.length === arity && order.every((slot, i) => slot === i);
  return { query, order: identity ? null : order, arity };
}

function bind(compiled: Compiled, args: readonly unknown[]): CompiledQuery {
  if (args.length !== compiled.arity) throw new Error(`expected ${compiled.arity} arguments, got ${args.length}: ${compiled.query.sql}`);
  const { query, order } = compiled;
  return { query: query.query, queryId: query.queryId, sql: query.sql, parameters: order === null ? args : order.map((i) => args[i]) };
}

/** One statement compiled for one database; run it on that database or any transaction of it. */
export class Statement<Row = Record<string, unknown>> {
  readonly #compiled: Compiled;

  constructor(db: Compiler, template: RawBuilder<unknown>) {
    this.#compiled = compile(db, template);
  }

  get sql(): string {
    return this.#compiled.query.sql;
  }

  /**
   * Inside an operation (group-commit.ts): runs with `args` — argument i fills every `arg(i)` —
   * and returns the rows (RETURNING, SELECT; none otherwise): `const rows = yield* statement.step(args)`.
   */
  *step(args: readonly unknown[]): Step<Row[]> {
    return (yield bind(this.#compiled, args)) as Row[];
  }

  /** The query to yield from an operation that drives its own loop (ChunkedStatement); its rows are `Row[]`. */
  bind(args: readonly unknown[]): CompiledQuery {
    return bind(this.#compiled, args);
  }
}

/**
 * A statement over a list of items, compiled for 64, 16, 4 and 1 items: n items are taken in
 * chunks of those sizes, so at most four texts exist per statement (SQLite's statement cache
 * keeps them prepared) and n items take at most 3 + ⌊n/64⌋ + … statements — one for the usual
 * batch of a few. Each item is `width` consecutive values.
 */
export class ChunkedStatement<Row = Record<string, unknown>> {
  static readonly CHUNKS = [64, 16, 4, 1] as const;
  readonly #width: number;
  /** The statement for CHUNKS[i] items. */
  readonly #statements: ReadonlyArray<Statement<Row>>;

  /** `build(n)`: the statement for n items, whose values are `arg(0)` … `arg(n × width − 1)`, item by item. */
  constructor(db: Compiler, width: number, build: (n: number) => RawBuilder<unknown>) {
    this.#width = width;
    this.#statements = ChunkedStatement.CHUNKS.map((n) => new Statement<Row>(db, build(n)));
  }

  get width(): number {
    return this.#width;
  }

  /** Inside an operation: runs over the items whose values, `width` per item, are concatenated in `values`; returns every chunk's rows. */
  *step(values: readonly unknown[]): Step<Row[]> {
    if (values.length % this.#width !== 0) throw new Error(`${values.length} values do not make items of ${this.#width}`);
    // Index loops, no destructuring: this runs several times per request, and a generator's
    // iterators are garbage the optimiser cannot remove.
    let rows: Row[] = [];
    let at = 0;
    for (let c = 0; c < ChunkedStatement.CHUNKS.length; c++) {
      const size = ChunkedStatement.CHUNKS[c]! * this.#width;
      for (; values.length - at >= size; at += size) {
        const chunk = (yield this.#statements[c]!.bind(at === 0 && size === values.length ? values : values.slice(at, at + size))) as Row[];
        rows = rows.length === 0 ? chunk : rows.concat(chunk);
      }
    }
    return rows;
  }
}

/** A multi-row INSERT: one VALUES tuple per item. */
export class MultiInsert extends ChunkedStatement<never> {
  /**
   * `head`: `INSERT INTO table (columns…)` (a constant, never user input); `row(base)`: one VALUES
   * tuple whose values are `arg(base)` … `arg(base + width − 1)`, in column order.
   */
  constructor(db: Compiler, head: string, width: number, row: (base: number) => RawBuilder<unknown>) {
    super(db, width, (n) => sql`${sql.raw(head)} VALUES ${sql.join(Array.from({ length: n }, (_, r) => row(r * width)))}`);
  }
}
