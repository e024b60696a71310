// The suite's CLI client, as its cli.mjs: every test but the browser-only ones (client/runner.mjs) plus the
// Surrogate-Control suite, through node-fetch, against argv[2]; the results JSON on stdout. The only addition:
// argv[3..] name tests NOT to run (run.mjs --exclude, for diagnosis: an excluded test has no result, so the
// scorer counts it as untested and a known-failures list must name it).
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const suiteDir = path.dirname(require.resolve('http-cache-tests/package.json'));
const load = async (rel) => import(pathToFileURL(path.join(suiteDir, rel)).href);
const fetch = require(require.resolve('node-fetch', { paths: [suiteDir] }));

const { runTests, getResults } = await load('client/runner.mjs');
const tests = (await load('tests/index.mjs')).default;
const surrogate = (await load('tests/surrogate-control.mjs')).default;

const [baseUrl, ...exclude] = process.argv.slice(2);
const skip = new Set(exclude);
const suites = [...tests, surrogate].map((s) => ({ ...s, tests: s.tests.filter((t) => !skip.has(t.id)) }));
await runTests(suites, fetch, false, baseUrl);
console.log(JSON.stringify(getResults(), null, 2));
