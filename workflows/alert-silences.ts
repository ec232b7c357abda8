import { condition, continueAsNew, defineQuery, defineSignal, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import type { SharedActivities } from '../activities';
import type { IncidentEvent } from '../activities/change-records';
import { ActivityPresets } from './activity-options';
import { beginRun } from './run-labels';

const audit = proxyActivities<SharedActivities>(ActivityPresets.record);

/**
 * Silences (Alertmanager's): for a bounded time, notifications of alerts matching every matcher are not
 * sent. They live in one long-running workflow, not in PostgreSQL, so silencing a database outage does not
 * depend on the database.
 */
export const alertSilencesWorkflowId = 'tego-alert-silences';

const matcherValue = z.string().min(1).max(200);
const SilenceFields = z
  .object({
    /** Every matcher must match; `*` in a value matches any run of characters. At least one. */
    matchers: z
      .object({ rule: matcherValue.optional(), target: matcherValue.optional(), service: matcherValue.optional(), priority: matcherValue.optional() })
      .strict()
      .refine((m) => Object.keys(m).length > 0, 'give at least one matcher: rule, target, service or priority'),
    startsAt: z.iso.datetime({ offset: true }),
    endsAt: z.iso.datetime({ offset: true }),
    createdBy: z.string().min(1).max(200),
    comment: z.string().min(1).max(500),
  })
  .strict();
const endsAfterStart = (s: { startsAt: string; endsAt: string }) => Date.parse(s.endsAt) > Date.parse(s.startsAt);
const endsAfterStartIssue = { message: 'endsAt must be after startsAt', path: ['endsAt'] };

/** What a person asks for. */
export const SilenceRequestSchema = SilenceFields.refine(endsAfterStart, endsAfterStartIssue);
export type SilenceRequest = z.infer<typeof SilenceRequestSchema>;
/** A silence as held: the request with its id, and who ended it early. */
export const SilenceSchema = SilenceFields.extend({ id: z.string().min(1), expiredBy: z.string().optional() }).refine(endsAfterStart, endsAfterStartIssue);
export type Silence = z.infer<typeof SilenceSchema>;

export const addSilenceSignal = defineSignal<[Silence]>('addSilence');
export const expireSilenceSignal = defineSignal<[{ id: string; by: string }]>('expireSilence');
/** Every silence not yet past its end (including those not begun). */
export const silencesQuery = defineQuery<Silence[]>('silences');

/** What a silence is matched against: the alert's labels. */
export interface SilenceLabels {
  rule: string;
  target: string;
  service?: string;
  priority: string;
}

/** The silence in force at `now` that matches `labels`, if any. */
export function matchingSilence(silences: Silence[], labels: SilenceLabels, now: number): Silence | undefined {
  return silences.find(
    (s) =>
      !s.expiredBy &&
      Date.parse(s.startsAt) <= now &&
      now < Date.parse(s.endsAt) &&
      Object.entries(s.matchers).every(([label, pattern]) => matches(pattern, labels[label as keyof SilenceLabels])),
  );
}

function matches(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
  return regex.test(value);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Holds the silences; expired ones are dropped, and the history is restarted after many signals.
 * Started by the first `tego-ops silence add` (signal-with-start) and runs until terminated.
 */
export async function alertSilencesWorkflow(input: { silences?: Silence[] } = {}): Promise<void> {
  beginRun({ kind: 'alert-silences', target: 'alerts' });
  let silences = input.silences ?? [];
  let signals = 0;
  /** Silences created or ended, for the audit table (an incident id of `silence:<id>`). */
  const unrecorded: { silence: Silence; event: IncidentEvent }[] = [];
  const note = (silence: Silence, event: string, actor: string) =>
    unrecorded.push({ silence, event: { seq: silence.expiredBy ? 2 : 1, at: new Date().toISOString(), event, actor, detail: { ...silence } } });
  setHandler(addSilenceSignal, (silence) => {
    signals += 1;
    if (SilenceSchema.safeParse(silence).success && !silences.some((s) => s.id === silence.id)) {
      silences.push(silence);
      note(silence, 'silence-created', silence.createdBy);
    }
  });
  setHandler(expireSilenceSignal, ({ id, by }) => {
    signals += 1;
    silences = silences.map((s) => {
      if (s.id !== id || s.expiredBy) return s;
      const expired = { ...s, expiredBy: by };
      note(expired, 'silence-expired', by);
      return expired;
    });
  });
  setHandler(silencesQuery, () => silences.filter((s) => Date.parse(s.endsAt) > Date.now()));
  for (;;) {
    const nextEnd = Math.min(...silences.map((s) => Date.parse(s.endsAt)), Date.now() + 86_400_000);
    const seen = signals;
    await condition(() => signals !== seen || unrecorded.length > 0, Math.max(nextEnd - Date.now(), 1000));
    while (unrecorded.length > 0) {
      const { silence, event } = unrecorded[0];
      try {
        await audit.recordIncidentEvents({ incidentId: `silence:${silence.id}`, dedupKey: JSON.stringify(silence.matchers), priority: silence.matchers.priority ?? '*', events: [event] });
      } catch (err) {
        log.warn('silence not recorded in the audit table', { silence: silence.id, error: (err as Error).message });
      }
      unrecorded.shift();
    }
    silences = silences.filter((s) => Date.parse(s.endsAt) > Date.now() && !s.expiredBy);
    if (signals > 500 || workflowInfo().continueAsNewSuggested) await continueAsNew<typeof alertSilencesWorkflow>({ silences });
  }
}
