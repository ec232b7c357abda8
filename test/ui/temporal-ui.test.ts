import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { HealthReport } from '../../workflows/health-report';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

/**
 * The Temporal UI's "Start Workflow" form, end to end, as an operator uses it: Debian's Chromium,
 * headless, driven by playwright-core, fills the form of the sandbox's dev-server UI and reads the
 * outcome on the workflow's page. The suite's client then confirms that the workflow id typed into
 * the form really ran to that end, so a stale page cannot pass.
 *
 * Payloads may be encrypted by the worker's codec, so no payload is read in the UI (a completed
 * workflow's result); the status badge, the failure message and the failure type (not payloads) are.
 */

const suite = useSandbox();
/** Generous: a 2-core machine running the whole sandbox can be slow to render or to run a task. */
const uiTimeout = 60_000;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', // Debian's (scripts/setup.sh); Playwright's own download cannot run here
    // Root in a container: no sandbox; no GPU; /dev/shm may be small; the network is loopback only.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic'],
  });
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  page = await context.newPage();
  page.setDefaultTimeout(uiTimeout);
});

afterEach(async ({ task }) => {
  if (task.result?.state === 'fail' && page) {
    const logs = join(suite.sandbox.stateDir, 'logs');
    await mkdir(logs, { recursive: true });
    const path = join(logs, `ui-${task.name.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80)}.png`);
    await page.screenshot({ path, fullPage: true }).then(
      () => console.error(`[ui] screenshot of the failed test: ${path}`),
      (err: unknown) => console.error(`[ui] no screenshot: ${(err as Error).message}`),
    );
  }
  await context?.close();
});

/**
 * Starts a workflow through the UI: Workflows list → "Start Workflow" → the form → the toast's link
 * to the new run. Leaves the page on that run's page and returns the run id the UI linked to.
 */
async function startFromForm(workflowId: string, workflowType: string, input: unknown): Promise<string> {
  await page.goto(`${suite.sandbox.temporalUiUrl}/namespaces/default/workflows`);
  await page.getByRole('button', { name: 'Start Workflow' }).click();
  await page.getByRole('heading', { name: 'Start a Workflow' }).waitFor();

  await page.getByLabel('Workflow ID').fill(workflowId);
  await page.getByLabel('Task Queue').fill('ops');
  await page.getByLabel('Workflow Type').fill(workflowType);
  // The UI looks the queue up when its field loses focus: the worker of this file must be polling it.
  await page.getByText('Task Queue is Active').waitFor();

  await page.getByRole('radio', { name: 'json/plain' }).check();
  // The input editor is CodeMirror: a contenteditable with role textbox. It reformats its JSON when it
  // loses focus, which moves the button below it; blur first, so the click lands on a settled form.
  const editor = page.locator('[role="textbox"][data-language="json"]');
  await editor.fill(JSON.stringify(input));
  await editor.blur();
  await expect.poll(async () => parseJson(await editor.innerText()), { timeout: uiTimeout }).toEqual(input);

  await page.getByRole('button', { name: 'Start Workflow' }).click();
  const started = page.getByRole('link', { name: 'Workflow started successfully' });
  const href = await started.getAttribute('href');
  const match = href?.match(/\/namespaces\/default\/workflows\/([^/]+)\/([^/]+)\//);
  expect(match?.[1] && decodeURIComponent(match[1]), `the toast links to ${href}`).toBe(workflowId);
  await page.goto(new URL(href!, page.url()).href);
  await page.getByRole('heading', { level: 1, name: workflowId }).waitFor();
  return match![2];
}

/** The status badge in the header of the workflow's page (Running, Completed, Failed, ...). */
function statusBadge(workflowId: string, status: string) {
  return page
    .locator('header')
    .filter({ has: page.getByRole('heading', { level: 1, name: workflowId }) })
    .getByText(status, { exact: true });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

describe('Temporal UI: Start Workflow form', () => {
  it('starts healthCheckWorkflow with JSON input and shows it Completed', async () => {
    const workflowId = uniqueId('ui-health');
    const input = { components: ['redis', 'storage'] };
    const runId = await startFromForm(workflowId, 'healthCheckWorkflow', input);

    // The page polls a running workflow, so this waits through Running to Completed.
    await statusBadge(workflowId, 'Completed').waitFor({ timeout: uiTimeout });

    const handle = suite.client.workflow.getHandle<(input: unknown) => Promise<HealthReport>>(workflowId);
    const description = await handle.describe();
    expect(description).toMatchObject({ runId, type: 'healthCheckWorkflow', taskQueue: 'ops' });
    expect(description.status.name).toBe('COMPLETED');
    // The input typed into the form reached the workflow intact: only the groups it named were probed.
    const report = await handle.result();
    expect(report.components.map((c) => c.kind).sort()).toEqual(['redis', 'storage']);
    expect(report.overall).toBe('healthy');
  });

  it('shows bad input Failed with the field-level InvalidInput message', async () => {
    const workflowId = uniqueId('ui-health-bad');
    // A wrong type for a real field: components is a list of groups, not one string.
    const runId = await startFromForm(workflowId, 'healthCheckWorkflow', { components: 'redis' });
    const message = 'invalid input: components: expected array, received string';

    await statusBadge(workflowId, 'Failed').waitFor({ timeout: uiTimeout });
    const failedEvent = page.getByTestId('event-summary-row').filter({ hasText: 'Workflow Execution Failed' });
    await expect.poll(() => failedEvent.innerText(), { timeout: uiTimeout }).toContain(message);
    await page.getByText('"InvalidInput"', { exact: true }).waitFor();

    const handle = suite.client.workflow.getHandle<(input: unknown) => Promise<HealthReport>>(workflowId);
    const description = await handle.describe();
    expect(description).toMatchObject({ runId, type: 'healthCheckWorkflow' });
    expect(description.status.name).toBe('FAILED');
    const failure: unknown = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true, message });
    const history = await handle.fetchHistory();
    expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
  });
});
