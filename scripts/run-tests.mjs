#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's built-in test runner. Node 20's
// `--test` takes no globs, so the files are listed here. Extra arguments are passed through
// (for example `--test-name-pattern`). RAMPART_TEST_FILTER narrows the files by substring. A test
// that hangs fails after 3 minutes instead of holding CI until its deadline.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const filter = process.env.RAMPART_TEST_FILTER;
const files = walk('dist/test', []).filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/test');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...process.argv.slice(2), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
