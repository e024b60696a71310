// The scorer of the cache-tests run (score.mjs) on synthetic results over the real suite (http-cache-tests
// 0.4.5): counts, the suite's dependency rule, setup failures, kinds, and the known-failures comparison.
// ctest: conformance.scorer (needs no kvedge, no network).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cliTests, compareKnown, kindOf, knownFailuresText, loadSuite, parseKnownFailures, score } from './score.mjs';

const suite = await loadSuite();

/** Results in which every test the CLI runs passed, with overrides {id: result}. */
function results(overrides = {}) {
    const r = {};
    for (const t of cliTests(suite)) r[t.id] = true;
    return Object.assign(r, overrides);
}
const fail = (msg = 'Response 2 does not come from cache') => ['Assertion', msg];
const setup = (msg = 'Response 2 status is 500, not 200') => ['Setup', msg];
const entry = (scored, id) => scored.entries.find((e) => e.id === id);

/** A required test whose depends_on lists a required test, and one that lists a check. */
function findDependent(depKind) {
    for (const t of cliTests(suite)) {
        if (kindOf(t) !== 'required' || !t.depends_on) continue;
        const dep = t.depends_on.find((d) => kindOf(suite.byId.get(d).test) === depKind);
        if (dep) return { id: t.id, dep };
    }
    throw new Error(`no required test depends on a ${depKind} test`);
}

test('cache-tests 0.4.5: the CLI runs 350 tests, 165 of them required (http-cache.md §4.1)', () => {
    assert.equal(suite.version, '0.4.5');
    const tests = cliTests(suite);
    assert.equal(tests.length, 350);
    assert.equal(tests.filter((t) => kindOf(t) === 'required').length, 165);
    const s = score(suite, results());
    assert.deepEqual([s.required.total, s.required.passed, s.required.failed], [165, 165, 0]);
    assert.equal(s.optimal.total, 95);
    assert.equal(s.check.total, 90);
    assert.equal(s.browserOnlyRequired, 3);
});

test('a required test whose dependency failed is greyed, not counted as a failure', () => {
    const { id, dep } = findDependent('required');
    const s = score(suite, results({ [dep]: fail(), [id]: fail() }));
    assert.equal(entry(s, dep).outcome, 'fail');
    assert.equal(entry(s, id).outcome, 'dependency');
    assert.match(entry(s, id).reason, new RegExp(`depends on ${dep} \\(fail: Response 2 does not come from cache\\)`));
    // the dependent is neither passed nor failed; every other test of that dependency is greyed as well
    assert.equal(s.required.failed, 1);
    assert.equal(s.required.passed + s.required.failed + s.required.dependency, 165);
    assert.ok(s.required.dependency >= 1);
});

test('a required test whose dependency is a check that said no is greyed', () => {
    const { id, dep } = findDependent('check');
    const s = score(suite, results({ [dep]: fail() }));
    assert.equal(entry(s, dep).outcome, 'no');
    assert.equal(entry(s, id).outcome, 'dependency');
    assert.equal(s.required.failed, 0);
    assert.equal(s.check.no, 1);
});

test('a Setup error is a setup failure (not counted); a missing result is untested', () => {
    const [a, b] = cliTests(suite).filter((t) => kindOf(t) === 'required' && !t.depends_on);
    const r = results({ [a.id]: setup() });
    delete r[b.id];
    const s = score(suite, r);
    assert.equal(entry(s, a.id).outcome, 'setup');
    assert.equal(entry(s, b.id).outcome, 'untested');
    assert.equal(s.required.failed, 0);
    assert.equal(s.required.setup, 1);
    assert.equal(s.required.untested, 1);
});

test('kinds: no kind counts as required; optimal fails are warnings, check fails are "no"', () => {
    const noKind = cliTests(suite).find((t) => t.kind === undefined && !t.depends_on);
    const optimal = cliTests(suite).find((t) => t.kind === 'optimal' && !t.depends_on);
    const s = score(suite, results({ [noKind.id]: fail(), [optimal.id]: fail() }));
    assert.equal(entry(s, noKind.id).kind, 'required');
    assert.equal(entry(s, noKind.id).outcome, 'fail');
    assert.equal(entry(s, optimal.id).outcome, 'warn');
    assert.equal(s.required.failed, 1);
    assert.equal(s.optimal.warn, 1);
});

test('known failures: unlisted non-passing tests, listed passing tests and non-required ids are reported', () => {
    const { id, dep } = findDependent('required');
    const optional = cliTests(suite).find((t) => t.kind === 'optimal');
    const lone = cliTests(suite).find((t) => kindOf(t) === 'required' && !t.depends_on && t.id !== dep && t.id !== id);
    const s = score(suite, results({ [dep]: fail() }));
    const { known, errors } = parseKnownFailures([
        '# comment',
        '',
        `${dep}  no Age yet # a hash in a reason stays`,
        `${lone.id}  listed but passes`,
        `${optional.id}  not a required test`,
        'no-such-test  typo',
    ].join('\n'), 'kf.txt');
    assert.deepEqual(errors, []);
    assert.equal(known.get(dep).reason, 'no Age yet # a hash in a reason stays');
    const cmp = compareKnown(s, known);
    // the greyed dependents of `dep` are not listed
    assert.ok(cmp.unexpected.some((e) => e.id === id && e.outcome === 'dependency'));
    assert.ok(!cmp.unexpected.some((e) => e.id === dep));
    assert.deepEqual(cmp.nowPassing.map((e) => e.id), [lone.id]);
    assert.deepEqual(cmp.notRequired.sort(), [optional.id, 'no-such-test'].sort());
});

test('known failures: a line without a reason and a duplicate id are errors', () => {
    const { errors } = parseKnownFailures('freshness-none\nfreshness-max-age  x\nfreshness-max-age  y\n', 'kf.txt');
    assert.equal(errors.length, 2);
    assert.match(errors[0], /^kf\.txt:1: .*expected a test id followed by the reason/);
    assert.match(errors[1], /^kf\.txt:3: freshness-max-age is listed twice \(first on line 2\)/);
});

test('a draft list written from a run is accepted by the same run', () => {
    const { id, dep } = findDependent('required');
    const s = score(suite, results({ [dep]: fail(), [id]: fail() }));
    const { known, errors } = parseKnownFailures(knownFailuresText(s, 'header line'));
    assert.deepEqual(errors, []);
    assert.ok(known.has(dep) && known.has(id));
    const cmp = compareKnown(s, known);
    assert.deepEqual([cmp.unexpected.length, cmp.nowPassing.length, cmp.notRequired.length], [0, 0, 0]);
});
