// Scoring of a cache-tests run (http-cache-tests, the npm package), with the suite's own rules.
//
// A run of the suite's CLI (cli.mjs) prints {test id: true | [error name, message]}. What a result MEANS is
// decided by the suite itself, in lib/display.mjs determineTestResult(), the function cache-tests.fyi uses
// to colour its table; this module calls that function, it does not re-implement it:
//   - a test whose `depends_on` lists a test that did not pass (recursively; "pass" and "yes" count as
//     passed) is greyed ("dependency failed"): it is counted neither as passed nor as failed;
//   - an error named "Setup" (the harness could not set the test up, e.g. the proxy refused the PUT of the
//     test's configuration, or a request the test relies on was not cacheable) is a setup failure;
//   - otherwise, by the test's kind: `required` (or no kind) -> pass / fail; `optimal` -> pass / warn;
//     `check` -> yes / no.
// The CLI runs every test but the browser-only ones (cli.mjs + client/runner.mjs), together with the
// Surrogate-Control suite it appends; this module takes the same list.
//
// On top, a list of known failures: every REQUIRED test that does not pass (failed, or not counted for
// another reason) must be on it with a reason, and a listed test that passes is an error too, so the list
// stays honest. See README.md for the file format.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** The installed suite: {version, dir, suites, byId: Map(id -> {test, suite}), determineTestResult}. */
export async function loadSuite() {
    const pkgJson = require.resolve('http-cache-tests/package.json');
    const dir = path.dirname(pkgJson);
    const { version } = require(pkgJson);
    const load = async (rel) => import(pathToFileURL(path.join(dir, rel)).href);
    const index = (await load('tests/index.mjs')).default;
    const surrogate = (await load('tests/surrogate-control.mjs')).default;
    const { determineTestResult } = await load('lib/display.mjs');
    // cli.mjs does tests.push(surrogate) on the imported array; a copy leaves the module's array alone
    const suites = [...index, surrogate];
    const byId = new Map();
    for (const suite of suites) {
        for (const test of suite.tests) {
            if (byId.has(test.id)) throw new Error(`cache-tests: duplicate test id ${test.id}`);
            byId.set(test.id, { test, suite });
        }
    }
    return { version, dir, suites, byId, determineTestResult };
}

/** How the suite classifies a test kind: no kind means required (determineTestResult). */
export function kindOf(test) {
    return test.kind ?? 'required';
}

/** The tests the CLI runs (client/runner.mjs skips browser_only ones when not testing a browser cache). */
export function cliTests(suite) {
    const out = [];
    for (const s of suite.suites) for (const test of s.tests) if (test.browser_only !== true) out.push(test);
    return out;
}

// determineTestResult returns one of the suite's resultTypes arrays; its third member is the plain-text symbol.
const OUTCOME_BY_SYMBOL = new Map([
    ['✅', 'pass'],
    ['⛔️', 'fail'],
    ['⚠️', 'warn'],
    ['Y', 'yes'],
    ['N', 'no'],
    ['🔹', 'setup'],
    ['⁉️', 'harness'],
    ['⚪️', 'dependency'],
    ['↻', 'retry'],
    ['-', 'untested'],
]);
const PASSED = new Set(['pass', 'yes']);

export function outcomeOf(suite, results, id) {
    const symbol = suite.determineTestResult(suite.suites, id, results)[2];
    const outcome = OUTCOME_BY_SYMBOL.get(symbol);
    if (outcome === undefined) throw new Error(`cache-tests: unknown result symbol ${JSON.stringify(symbol)} for ${id}`);
    return outcome;
}

/** The first dependency chain of `id` that ends at a test that did not pass by itself: [dep, ..., root]. */
function failedDependencyChain(suite, results, id, seen = new Set()) {
    const { test } = suite.byId.get(id);
    for (const dep of test.depends_on ?? []) {
        if (seen.has(dep)) continue;
        seen.add(dep);
        const outcome = outcomeOf(suite, results, dep);
        if (PASSED.has(outcome)) continue;
        if (outcome === 'dependency') return [dep, ...failedDependencyChain(suite, results, dep, seen)];
        return [dep];
    }
    return [];
}

/** One line of why a test did not pass: the suite's message, or the dependency that greyed it. */
export function reasonOf(suite, results, id, outcome) {
    if (outcome === 'dependency') {
        const chain = failedDependencyChain(suite, results, id);
        const root = chain[chain.length - 1];
        if (root === undefined) return 'a dependency did not pass';
        const rootOutcome = outcomeOf(suite, results, root);
        const rootMsg = Array.isArray(results[root]) ? `: ${results[root][1]}` : '';
        return `depends on ${chain.join(' -> ')} (${rootOutcome}${rootMsg})`;
    }
    const r = results[id];
    if (r === undefined) return 'no result (not run)';
    if (Array.isArray(r)) return `${r[0]}: ${r[1]}`;
    return String(r);
}

const count = (list, outcome) => list.filter((e) => e.outcome === outcome).length;

/**
 * Classify every test the CLI runs. Returns {entries: [{id, kind, suiteId, outcome, reason}], required,
 * optimal, check: per-kind tallies {total, passed, failed, dependency, setup, retry, harness, untested, warn,
 * yes, no}, browserOnlyRequired}.
 */
export function score(suite, results) {
    const entries = [];
    for (const s of suite.suites) {
        for (const test of s.tests) {
            if (test.browser_only === true) continue;
            const outcome = outcomeOf(suite, results, test.id);
            const entry = { id: test.id, kind: kindOf(test), suiteId: s.id, outcome, reason: '' };
            if (!PASSED.has(outcome)) entry.reason = reasonOf(suite, results, test.id, outcome);
            entries.push(entry);
        }
    }
    const tally = (kind) => {
        const list = entries.filter((e) => e.kind === kind);
        return {
            total: list.length,
            passed: count(list, 'pass') + count(list, 'yes'),
            failed: count(list, 'fail'),
            warn: count(list, 'warn'),
            no: count(list, 'no'),
            dependency: count(list, 'dependency'),
            setup: count(list, 'setup'),
            retry: count(list, 'retry'),
            harness: count(list, 'harness'),
            untested: count(list, 'untested'),
        };
    };
    let browserOnlyRequired = 0;
    for (const s of suite.suites) for (const t of s.tests) if (t.browser_only === true && kindOf(t) === 'required') browserOnlyRequired++;
    return { entries, required: tally('required'), optimal: tally('optimal'), check: tally('check'), browserOnlyRequired };
}

/**
 * Parse a known-failures file: one `test-id  reason` per line (the reason is mandatory); blank lines and lines
 * starting with `#` are ignored (a `#` later on a line is part of the reason). Returns {known: Map(id -> {reason, line}), errors: [string]}.
 */
export function parseKnownFailures(text, fileName = 'known-failures') {
    const known = new Map();
    const errors = [];
    text.split('\n').forEach((raw, i) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#')) return;
        const m = /^(\S+)\s+(\S.*)$/.exec(line);
        if (!m) {
            errors.push(`${fileName}:${i + 1}: "${line}": expected a test id followed by the reason it fails`);
            return;
        }
        if (known.has(m[1])) {
            errors.push(`${fileName}:${i + 1}: ${m[1]} is listed twice (first on line ${known.get(m[1]).line})`);
            return;
        }
        known.set(m[1], { reason: m[2], line: i + 1 });
    });
    return { known, errors };
}

/**
 * Compare a scored run with the known failures (only required tests are judged).
 * Returns {unexpected: [entry] (required, not passed, not listed), nowPassing: [entry] (listed, passed),
 * notRequired: [id] (listed but not a required test the CLI runs: a typo or a test that left the suite)}.
 */
export function compareKnown(scored, known) {
    const required = new Map(scored.entries.filter((e) => e.kind === 'required').map((e) => [e.id, e]));
    const unexpected = [];
    const nowPassing = [];
    for (const e of required.values()) {
        const passed = PASSED.has(e.outcome);
        if (!passed && !known.has(e.id)) unexpected.push(e);
        if (passed && known.has(e.id)) nowPassing.push(e);
    }
    const notRequired = [...known.keys()].filter((id) => !required.has(id));
    return { unexpected, nowPassing, notRequired };
}

/** A known-failures file listing every required test of this run that did not pass, with its reason. */
export function knownFailuresText(scored, header) {
    const lines = header ? header.split('\n').map((l) => `# ${l}`.trimEnd()) : [];
    for (const e of scored.entries) {
        if (e.kind !== 'required' || PASSED.has(e.outcome)) continue;
        lines.push(`${e.id}  ${e.outcome}: ${e.reason.replace(/\s+/g, ' ')}`);
    }
    return `${lines.join('\n')}\n`;
}

export function isPassed(outcome) {
    return PASSED.has(outcome);
}
