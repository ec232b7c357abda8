import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/activity';
import { drillHostOf } from '../inventory/topology';
import { ErrorType } from '../workflows/error-types';
import { spawnPiped } from './child-process';
import { assertLocalHost, type ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, postgresSettings } from './postgres-connection';
import type { ScratchPostgres } from './scratch-instances';
import { ByteMeter } from './stream-upload';

export function createScratchCopyActivities(deps: ActivityDeps) {
  return {
    /**
     * Copies one database out of a scratch copy (a point-in-time recovery) into a new, empty database on
     * the primary: `pg_dump` on the drill host piped straight into `pg_restore` against the primary, with
     * no file between. Replaces a database of that name a dead attempt left.
     * @throws ApplicationFailure `RestoreFailed` (non-retryable) when pg_restore rejects the copy
     */
    async copyScratchDatabaseToPrimary({ drillId, database, target }: { drillId: string; database: string; target: string }): Promise<{ bytes: number }> {
      assertLocalHost(deps, drillHostOf(deps.inventory)!);
      const pg = postgresSettings(deps.inventory);
      const primary = pg.nodes.find((n) => n.role === 'primary')!;
      const info = JSON.parse(await readFile(join(deps.inventory.restore.scratchDirectory, drillId, 'pg.json'), 'utf8')) as ScratchPostgres;
      if (info.auth !== 'primary') throw new Error(`scratch copy ${drillId} is not a point-in-time recovery of the primary`);
      const admin = await connectToNode(deps, primary, { database: 'postgres', timeoutMs: 30_000 });
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(target)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${ident(target)}`);
      } finally {
        await admin.end();
      }
      const env = { ...process.env, PGPASSWORD: deps.secret(pg.passwordEnv, 'postgres.passwordEnv') };
      const meter = new ByteMeter(false);
      await withProgressHeartbeat(
        () => ({ bytesCopied: meter.bytes }),
        async () => {
          const dump = spawnPiped('pg_dump', ['-Fc', '-Z0', '-h', '127.0.0.1', '-p', String(info.port), '-U', pg.user, '--no-password', '-d', database], env);
          dump.child.stdin.end();
          const restore = spawnPiped('pg_restore', ['-h', primary.address, '-p', String(primary.port), '-U', pg.user, '--no-password', '-d', target, '--exit-on-error'], env);
          restore.child.stdout.resume();
          const restored = restore.exited.catch((err: Error) => {
            throw ApplicationFailure.nonRetryable(`copying ${database} at the target time into ${target} failed: ${err.message}`, ErrorType.RestoreFailed);
          });
          const results = await Promise.allSettled([restored, dump.exited, pipeline(dump.child.stdout, meter, restore.child.stdin)]);
          const failed = results.find((r) => r.status === 'rejected');
          if (failed) throw failed.reason;
        },
      );
      return { bytes: meter.bytes };
    },
  };
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
