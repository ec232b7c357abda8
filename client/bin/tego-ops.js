#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx tego-ops` works from a checkout without a build step.
// The AWS SDK warns on every run that future releases need Node 22; the lockfile pins a release
// that supports Node 20, so the warning is noise for a person at a terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs');
require('../cli.ts');
