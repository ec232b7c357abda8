import { type Command, InvalidArgumentError } from 'commander';
import { msOf } from '../workflows/durations';
import { durationSchema } from '../workflows/inputs';
import type { SilenceRequest } from '../workflows/alert-silences';
import { defaultRequester } from './cli-runs';
import { formatTable } from './format-table';
import type { OpsClient } from './ops-client';

type WithClient = <T>(work: (ops: OpsClient) => Promise<T>) => Promise<T>;

/** `ack`, `incidents` and `silence …`: what the person on call does with alerts. */
export function registerAlertCommands(program: Command, withClient: WithClient): void {
  program
    .command('ack')
    .description('acknowledge an incident: escalation and repeats stop; the resolved notice still comes')
    .argument('<incident>', 'its dedup key (rule:target, as the notification names it) or workflow id')
    .option('--by <who>', 'who takes it', defaultRequester())
    .option('--comment <text>', 'what you are doing about it')
    .option('--json', 'print the incident as JSON', false)
    .action(async (incident: string, opts: { by: string; comment?: string; json: boolean }) => {
      const status = await withClient((ops) => ops.ack(incident, { by: opts.by, ...(opts.comment ? { comment: opts.comment } : {}) }));
      console.log(opts.json ? JSON.stringify(status, null, 2) : `${status.incidentId}: acknowledged by ${status.acknowledged?.by ?? opts.by}`);
    });

  program
    .command('incidents')
    .description('open incidents, most urgent first')
    .option('--json', 'print as JSON', false)
    .action(async (opts: { json: boolean }) => {
      const incidents = await withClient((ops) => ops.listIncidents());
      if (opts.json) return console.log(JSON.stringify(incidents, null, 2));
      console.log(
        incidents.length === 0
          ? 'no open incidents'
          : formatTable(
              ['PRIORITY', 'DEDUP KEY', 'STATE', 'OPENED', 'LEVEL', 'SUMMARY'],
              incidents.map((i) => [i.alert.priority, i.alert.dedupKey, i.inhibitedBy ? `${i.state} (inhibited)` : i.state, i.openedAt, String(i.level + 1), i.alert.summary]),
            ),
      );
    });

  const silence = program.command('silence').description('silence alert notifications for a while (Alertmanager-style)');
  silence
    .command('add')
    .description('silence notifications of alerts matching every --match until it expires')
    .requiredOption('--match <label=value>', 'rule, target, service or priority; `*` matches anything (repeatable)', collectMatcher, {})
    .requiredOption('--for <duration>', 'how long, e.g. 30m, 2h', parseDuration)
    .requiredOption('--comment <text>', 'why (shown on every silenced notification)')
    .option('--by <who>', 'who silences', defaultRequester())
    .option('--json', 'print the silence as JSON', false)
    .action(async (opts: { match: SilenceRequest['matchers']; for: number; comment: string; by: string; json: boolean }) => {
      const now = Date.now();
      const created = await withClient((ops) =>
        ops.addSilence({ matchers: opts.match, startsAt: new Date(now).toISOString(), endsAt: new Date(now + opts.for).toISOString(), createdBy: opts.by, comment: opts.comment }),
      );
      console.log(opts.json ? JSON.stringify(created, null, 2) : `${created.id}: until ${created.endsAt}`);
    });
  silence
    .command('list')
    .description('silences in force or scheduled')
    .option('--json', 'print as JSON', false)
    .action(async (opts: { json: boolean }) => {
      const silences = await withClient((ops) => ops.listSilences());
      if (opts.json) return console.log(JSON.stringify(silences, null, 2));
      console.log(
        silences.length === 0
          ? 'no silences'
          : formatTable(
              ['ID', 'MATCHERS', 'ENDS', 'BY', 'COMMENT'],
              silences.map((s) => [s.id, Object.entries(s.matchers).map(([k, v]) => `${k}=${v}`).join(' '), s.endsAt, s.createdBy, s.comment]),
            ),
      );
    });
  silence
    .command('expire')
    .description('end a silence now')
    .argument('<id>', 'the silence (see `silence list`)')
    .option('--by <who>', 'who ends it', defaultRequester())
    .action(async (id: string, opts: { by: string }) => {
      await withClient((ops) => ops.expireSilence(id, opts.by));
      console.log(`${id}: expired`);
    });
}

const matcherLabels = ['rule', 'target', 'service', 'priority'] as const;

function collectMatcher(value: string, previous: Record<string, string>): Record<string, string> {
  const [label, ...rest] = value.split('=');
  if (!matcherLabels.includes(label as (typeof matcherLabels)[number]) || rest.length === 0 || !rest.join('=')) {
    throw new InvalidArgumentError(`expected label=value with label one of ${matcherLabels.join(', ')}, got "${value}"`);
  }
  return { ...previous, [label]: rest.join('=') };
}

function parseDuration(value: string): number {
  const parsed = durationSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`${parsed.error.issues[0].message}, got "${value}"`);
  return msOf(parsed.data);
}
