import { describe, expect, it } from 'vitest';
import { matchingSilence, SilenceRequestSchema, type Silence } from '../../workflows/alert-silences';

const silence = (matchers: Silence['matchers'], startsAt = '2026-12-05T10:00:00Z', endsAt = '2026-12-05T12:00:00Z'): Silence => ({
  id: 's1',
  matchers,
  startsAt,
  endsAt,
  createdBy: 'alice',
  comment: 'maintenance',
});
const labels = { rule: 'app-instance-down', target: 'tego-os-host1-1', service: 'tego-os', priority: 'P1' };
const at = (time: string) => Date.parse(time);

describe('silences', () => {
  it('match when every matcher matches, with * as a wildcard, only between start and end', () => {
    const s = silence({ rule: 'app-instance-down', target: 'tego-os-*' });
    expect(matchingSilence([s], labels, at('2026-12-05T11:00:00Z'))?.id).toBe('s1');
    expect(matchingSilence([s], labels, at('2026-12-05T09:59:59Z'))).toBeUndefined();
    expect(matchingSilence([s], labels, at('2026-12-05T12:00:00Z'))).toBeUndefined();
    expect(matchingSilence([silence({ rule: 'app-instance-down', service: 'tego-mcp' })], labels, at('2026-12-05T11:00:00Z'))).toBeUndefined();
    expect(matchingSilence([{ ...s, expiredBy: 'bob' }], labels, at('2026-12-05T11:00:00Z'))).toBeUndefined();
  });

  it('treats matcher text literally apart from *', () => {
    expect(matchingSilence([silence({ target: 'tego.os' })], { ...labels, target: 'tegoXos' }, at('2026-12-05T11:00:00Z'))).toBeUndefined();
  });

  it('refuses a request without matchers or that ends before it starts', () => {
    const result = SilenceRequestSchema.safeParse({ matchers: {}, startsAt: '2026-12-05T10:00:00Z', endsAt: '2026-12-05T09:00:00Z', createdBy: 'a', comment: 'c' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message)).toEqual(['give at least one matcher: rule, target, service or priority', 'endsAt must be after startsAt']);
  });
});
