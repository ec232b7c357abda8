import { readFile } from 'node:fs/promises';
import { userInfo, hostname } from 'node:os';
import type { Command } from 'commander';
import type { ChangeRecord } from '../activities/change-records';
import type { Decision } from '../workflows/change-signals';
import { flagOptions, inputFromFlags } from './cli-flags';
import { followRun, outcomeOf, type RunOutcome } from './follow-run';
import { formatTable } from './format-table';
import { InvalidInputError, type OpsClient } from './ops-client';
import { WorkflowKinds, type WorkflowKind } from './workflow-kinds';

type WithClient = <T>(work: (ops: OpsClient) => Promise<T>) => Promise<T>;

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

/** Who is asking: the CLI user, as `login@host`, unless --by says otherwise. */
export function defaultRequester(): string {
  return `${process.env.SUDO_USER ?? userInfo().username}@${hostname()}`;
}

async function readInputFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidInputError([`--input ${file}: ${(err as Error).message}`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as Record<string, unknown>;
  } catch (err) {
    throw new InvalidInputError([`--input ${file}: ${(err as Error).message}`]);
  }
}

function report(outcome: RunOutcome, json: boolean): void {
  if (json) console.log(JSON.stringify(outcome, null, 2));
  else if (outcome.failure) console.error(`${outcome.workflowId}: ${outcome.status}: ${outcome.failure}`);
  else console.log(`${outcome.workflowId}: ${outcome.status}\n${JSON.stringify(outcome.result, null, 2)}`);
  process.exitCode = outcome.status === 'COMPLETED' ? ExitCode.ok : ExitCode.failed;
}

const progressLine = (line: string) => console.error(line);

/**
 * `start <kind>` for every workflow kind (flags derived from its input schema, or --input file.json),
 * and the commands that act on running workflows: status, watch, result, cancel, approve, reject,
 * pause, resume, abort; and `changes`, the change log.
 */
export function registerRunCommands(program: Command, withClient: WithClient): void {
  const start = program.command('start').description('start any tego-ops workflow; see `start <kind> --help` for its flags');
  for (const [kind, spec] of Object.entries(WorkflowKinds) as [WorkflowKind, (typeof WorkflowKinds)[WorkflowKind]][]) {
    const command = start
      .command(kind)
      .description(spec.description)
      .option('--input <file.json>', 'read the input from a JSON file (flags override its fields)')
      .option('--workflow-id <id>', 'the workflow id (default: <kind>-<time>-<random>)')
      .option('--wait', 'follow the run to its end with live progress; exit 0 only on success', false)
      .option('--json', 'print the outcome (or the started ids) as JSON', false);
    for (const option of flagOptions(spec.inputSchema)) command.addOption(option);
    command.action(async (flags: Record<string, unknown> & { input?: string; workflowId?: string; wait: boolean; json: boolean }) => {
      const base = flags.input ? await readInputFile(flags.input) : {};
      const { input: _file, workflowId: _id, wait: _wait, json: _json, ...fields } = flags;
      const input = inputFromFlags(spec.inputSchema, fields, base);
      await withClient(async (ops) => {
        const handle = await ops.start(kind, input, { workflowId: flags.workflowId, requestedBy: defaultRequester() });
        if (!flags.wait) {
          if (flags.json) console.log(JSON.stringify({ workflowId: handle.workflowId }));
          else console.log(`started ${handle.workflowId}  (follow: tego-ops watch ${handle.workflowId})`);
          return;
        }
        if (!flags.json) console.error(`started ${handle.workflowId}`);
        report(await followRun(ops, handle.workflowId, flags.json ? () => undefined : progressLine), flags.json);
      });
    });
  }

  program
    .command('status')
    .description('where a run is: its status, steps, and for a managed change what it waits for')
    .argument('<workflow-id>')
    .option('--json', 'print as JSON', false)
    .action(async (workflowId: string, opts: { json: boolean }) => {
      await withClient(async (ops) => {
        const description = await ops.handle(workflowId).describe();
        const progress = await ops.progress(workflowId).catch(() => null);
        const change = await ops.changeStatus(workflowId).catch(() => null);
        const status = { workflowId, type: description.type, status: description.status.name, startTime: description.startTime, closeTime: description.closeTime ?? null, progress, change };
        if (opts.json) return console.log(JSON.stringify(status, null, 2));
        console.log(`${workflowId}  ${description.type}  ${status.status}  started ${description.startTime.toISOString()}`);
        if (progress) {
          console.log(`phase: ${progress.phase}`);
          for (const step of progress.steps) console.log(`  ${step.status.padEnd(11)} ${step.name}${step.detail ? `: ${step.detail}` : ''}`);
        }
        if (change?.approval) {
          const { decision, approvers, deadline } = change.approval;
          console.log(`approval: ${decision ? `${decision.approved ? 'approved' : 'rejected'} by ${decision.by}` : `waiting${approvers ? ` for ${approvers.join(' or ')}` : ''} until ${deadline}`}`);
        }
        if (change?.window) console.log(`window: ${change.window.description} (${change.window.open ? 'open' : `opens ${change.window.nextOpening}`})`);
        if (change?.paused) console.log('paused: resume with `tego-ops resume`');
        for (const note of change?.ignored ?? []) console.log(`ignored: ${note}`);
      });
    });

  program
    .command('watch')
    .description('follow a run to its end with live progress; exit 0 only on success')
    .argument('<workflow-id>')
    .option('--json', 'print the outcome as JSON', false)
    .action(async (workflowId: string, opts: { json: boolean }) => {
      await withClient(async (ops) => report(await followRun(ops, workflowId, opts.json ? () => undefined : progressLine), opts.json));
    });

  program
    .command('result')
    .description("wait for a run's result and print it; exit 0 only on success")
    .argument('<workflow-id>')
    .option('--json', 'print the outcome as JSON', false)
    .action(async (workflowId: string, opts: { json: boolean }) => {
      await withClient(async (ops) => {
        await ops.handle(workflowId).result().catch(() => undefined);
        report(await outcomeOf(ops, await ops.handle(workflowId).describe()), opts.json);
      });
    });

  program
    .command('cancel')
    .description('cancel a run: the running step is cancelled, what was done is undone, the change is recorded as cancelled')
    .argument('<workflow-id>')
    .action(async (workflowId: string) => {
      await withClient((ops) => ops.handle(workflowId).cancel());
      console.log(`cancellation requested for ${workflowId}`);
    });

  const decisions: [string, string, (ops: OpsClient, id: string, d: Decision) => Promise<void>][] = [
    ['approve', 'approve a change waiting for approval', (ops, id, d) => ops.approve(id, d)],
    ['reject', 'reject a change waiting for approval: it ends, nothing changed', (ops, id, d) => ops.reject(id, d)],
    ['pause', 'hold a change before its next step (the running step finishes)', (ops, id, d) => ops.pause(id, d)],
    ['resume', 'let a paused change go on', (ops, id, d) => ops.resume(id, d)],
    ['abort', 'stop a change before its next step and undo what it did', (ops, id, d) => ops.abort(id, d)],
  ];
  for (const [name, description, send] of decisions) {
    program
      .command(name)
      .description(description)
      .argument('<workflow-id>')
      .option('--by <who>', 'who decides (default: login@host)', defaultRequester())
      .option('--comment <text>', 'why; kept in the change record')
      .action(async (workflowId: string, opts: { by: string; comment?: string }) => {
        await withClient(async (ops) => {
          await send(ops, workflowId, { by: opts.by, ...(opts.comment ? { comment: opts.comment } : {}) });
          console.log(`${name} sent to ${workflowId} as ${opts.by}`);
          if (name === 'approve' || name === 'reject') {
            // The workflow decides whether the decision counts; say so if it did not.
            const status = await ops.changeStatus(workflowId).catch(() => null);
            const ignored = status?.ignored.filter((note) => note.includes(`by ${opts.by}:`)).at(-1);
            if (ignored) {
              console.error(`not accepted: ${ignored}`);
              process.exitCode = ExitCode.failed;
            }
          }
        });
      });
  }

  program
    .command('changes')
    .description('the change log: every managed change, newest first')
    .option('--limit <n>', 'how many', '20')
    .option('--kind <kind>', 'only this kind, e.g. restart-service')
    .option('--target <target>', 'only this target, e.g. service:tego-os')
    .option('--change-id <id>', 'only this change id')
    .option('--json', 'print as JSON', false)
    .action(async (opts: { limit: string; kind?: string; target?: string; changeId?: string; json: boolean }) => {
      const query = { limit: Number(opts.limit), kind: opts.kind, target: opts.target, changeId: opts.changeId };
      const records = await withClient((ops) => ops.listChanges(Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined))));
      if (opts.json) return console.log(JSON.stringify(records, null, 2));
      console.log(formatChanges(records));
    });
}

export function formatChanges(records: ChangeRecord[]): string {
  if (records.length === 0) return 'no changes recorded';
  return formatTable(
    ['STARTED', 'CHANGE', 'KIND', 'TARGET', 'BY', 'APPROVED BY', 'OUTCOME', 'SUMMARY'],
    records.map((r) => [
      r.startedAt.replace(/\.\d+Z$/, 'Z'),
      r.changeId,
      r.kind,
      r.target,
      r.requestedBy,
      r.approvedBy ?? '-',
      r.outcome ?? 'running',
      r.summary ?? '-',
    ]),
  );
}
