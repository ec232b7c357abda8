#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx tego-ops` works from a checkout without a build step.
require('tsx/cjs');
require('../cli.ts');
