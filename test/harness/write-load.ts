import { Client } from 'pg';

export interface WriteLoadReport {
  /** Ids whose INSERT was committed and acknowledged. */
  acknowledged: number[];
  failures: number;
  /** The longest stretch from a failed write to the next acknowledged one, in seconds. */
  longestOutageSeconds: number;
  /** Node (port) each acknowledged write went to, in order of change: where the writes moved. */
  servedBy: number[];
}

export interface WriteLoad {
  stop(): Promise<WriteLoadReport>;
}

/**
 * A client that writes without pause, as an app would, and remembers every acknowledged commit. It
 * follows the primary the way libpq's `target_session_attrs=read-write` does: after an error it
 * reconnects to whichever node takes writes. Every write is one INSERT of the next id into `table`.
 */
export function startWriteLoad(options: { ports: number[]; password: string; database: string; table: string }): WriteLoad {
  const report: WriteLoadReport = { acknowledged: [], failures: 0, longestOutageSeconds: 0, servedBy: [] };
  let stopping = false;
  let client: Client | null = null;
  let port = 0;
  let outageSince: number | null = null;

  const connectToWritable = async (): Promise<void> => {
    for (const candidate of options.ports) {
      const c = new Client({ host: '127.0.0.1', port: candidate, user: 'postgres', password: options.password, database: options.database, connectionTimeoutMillis: 1000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        const { rows } = await c.query<{ writable: boolean }>(`SELECT NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off' AS writable`);
        if (rows[0].writable) {
          client = c;
          port = candidate;
          return;
        }
      } catch {
        // not this one
      }
      await c.end().catch(() => undefined);
    }
    throw new Error('no node takes writes');
  };

  const loop = (async () => {
    let next = 1;
    while (!stopping) {
      try {
        if (!client) await connectToWritable();
        await client!.query(`INSERT INTO ${options.table} (id) VALUES ($1)`, [next]);
        report.acknowledged.push(next);
        if (report.servedBy.at(-1) !== port) report.servedBy.push(port);
        if (outageSince !== null) {
          report.longestOutageSeconds = Math.max(report.longestOutageSeconds, (Date.now() - outageSince) / 1000);
          outageSince = null;
        }
      } catch {
        report.failures++;
        outageSince ??= Date.now();
        await (client as Client | null)?.end().catch(() => undefined);
        client = null;
        await new Promise((r) => setTimeout(r, 50));
      }
      next++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await (client as Client | null)?.end().catch(() => undefined);
  })();

  return {
    async stop() {
      stopping = true;
      await loop;
      return report;
    },
  };
}
