import type { Kysely } from 'kysely';
import type { Database } from '../schema.ts';

/** Small operator settings (the admin key's hash). */
export class SettingsRepository {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
  }

  /** Upsert; `ON CONFLICT … DO UPDATE` is spelled the same in SQLite and PostgreSQL. */
  async set(key: string, value: string): Promise<void> {
    const updated_at = Date.now();
    await this.#db
      .insertInto('settings')
      .values({ key, value, updated_at })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at }))
      .execute();
  }
}
