/**
 * The narrow view of the site's SQL state the gateway needs (DESIGN rule 3): statements and
 * transactions. container/ hands in the PostgreSQL layer's PostgresState, which already maps a
 * lost connection onto OUTPOST_ERR_UNAVAILABLE and re-runs lost serialization races.
 */
export interface SqlResult<R> {
  rows: R[];
  rowCount: number | null;
}

export interface SqlClient {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<SqlResult<R>>;
}

export interface SqlState {
  query<R extends Record<string, unknown>>(
    text: string,
    values?: unknown[],
    /**
     * `prepared`: a named prepared statement, parsed and planned once per pooled connection
     * (fixed texts only: the name is derived from the text).
     */
    options?: { idempotent?: boolean; prepared?: boolean },
  ): Promise<SqlResult<R>>;
  transaction<T>(
    isolation: 'read committed' | 'repeatable read' | 'serializable',
    work: (client: SqlClient) => Promise<T>,
  ): Promise<T>;
}
