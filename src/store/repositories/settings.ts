import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/** Small operator settings, one text value per key (the admin key's hash). */
export class SettingsRepository {
  readonly #db: Kysely<Database>;
  readonly #now: () => number;

  constructor(db: Kysely<Database>, now: () => number = Date.now) {
    this.#db = db;
    this.#now = now;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  /** Upsert in one statement; `ON CONFLICT (key) DO UPDATE` is spelled the same in SQLite (≥ 3.24) and PostgreSQL. */
  async set(key: string, value: string): Promise<void> {
    const updated_at = this.#now();
    await this.#db
      .insertInto('settings')
      .values({ key, value, updated_at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at }))
      .execute();
  }
}
