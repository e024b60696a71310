// Issue 13 (web console) in a real browser, the Sessions page: log in through the form, see the session routes'
// counters, list a user's sessions, revoke one and watch its next request be anonymous (the upstream sees no JWT),
// revoke all; a read-only console session sees no revoke button. A real redis-server; users log in through a session
// route whose upstream answers X-Session-Login (session_helpers.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startRedis } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';
import { startApp, startSessionKvedge, handleOf, lastSeen, req, verifyJwt, KEY } from './session_helpers.mjs';

const ADMIN = 'console-sessions-admin-token-0123456789';
const READER = 'console-sessions-reader-token-0123456789';

let redis, app, k, browser;

before(async () => {
    redis = await startRedis();
    app = await startApp();
    k = await startSessionKvedge({
        threads: 1,
        redis: redis.url,
        admin: { token: ADMIN, read_only_token: READER, console: { enabled: true } },
        routes: [{ path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, jwt_key: KEY, store_timeout: '2s' } }],
    });
    browser = await launchBrowser();
});

after(async () => {
    try {
        await browser?.close();
    } finally {
        if (k) assertCleanExit(await k.stop());
        await app?.stop();
        await redis?.stop();
    }
});

/** Logs `uid` in through the session route with user agent `ua`; returns the cookie's handle. */
async function loginAs(uid, ua) {
    const r = await req(k, `/app/login?u=${encodeURIComponent(uid)}`, null, { 'user-agent': ua });
    assert.equal(r.status, 200);
    return handleOf(r);
}

/** What the upstream sees for `handle`: {status, sub}. */
async function seenAs(handle) {
    assert.equal((await req(k, '/app/echo', handle)).status, 200);
    const h = lastSeen(app).headers;
    return { status: h['x-session-status'], sub: h['x-session-jwt'] ? verifyJwt(h['x-session-jwt']).sub : null };
}

/** Logs in to the console through its form with `token` and opens the Sessions page. */
async function openSessions(token) {
    const page = await browser.open(`${k.url}/ui/`);
    await consoleLogin(page, token);
    await page.page.click('a[href="#sessions"]');
    await page.page.waitForSelector('#sessions:not([hidden]) #sessions-groups tbody tr');
    return page;
}

async function listUser(page, user, rows) {
    await page.page.fill('#sessions-user', user);
    await page.page.click('#sessions-user-form button[type=submit]');
    await page.page.waitForFunction((n) => !document.getElementById('sessions-list').hidden &&
        document.querySelectorAll('#sessions-list tbody tr').length === n, rows);
}

const rowTexts = (page) => page.page.$$eval('#sessions-list tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));

test('issue 13 console sessions: log in, see the counters, list a user\'s sessions, revoke one (its next request is anonymous), revoke all', async () => {
    const a = await loginAs('alice', 'browser-a/1.0');
    const b = await loginAs('alice', 'browser-b/2.0');
    const other = await loginAs('bob', 'browser-c/3.0');
    for (const h of [a, b, a, other]) await seenAs(h); // three sessions with requests
    const page = await openSessions(ADMIN);
    try {
        // the counters: one set of routes, its active sessions (the first test: nothing before) and created count
        const groups = await page.page.$$eval('#sessions-groups tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
        assert.equal(groups.length, 1);
        assert.deepEqual([groups[0][0], groups[0][1], groups[0][3]], ['/app', 'default', '0'], 'no anonymous session active');
        // three logged-in sessions active: an estimate that is exact unless two random hashes share one of 1024 registers
        assert.ok(['3', '2'].includes(groups[0][2]), `active, logged in: ${groups[0][2]}`);
        assert.ok(Number(groups[0][4]) >= 3, `created ${groups[0][4]}`);
        page.assertClean();
        await page.screenshot('console-sessions');

        // the user's sessions: public ids, user agents, no cookie value anywhere on the page
        await listUser(page, 'alice', 2);
        const rows = await rowTexts(page);
        assert.deepEqual(rows.map((r) => r[4]).sort(), ['browser-a/1.0', 'browser-b/2.0']);
        for (const r of rows) assert.match(r[0], /^[0-9a-f]{32}$/);
        const html = await page.page.content();
        for (const h of [a, b]) assert.ok(!html.includes(h) && !html.includes(h.slice(11)), 'no cookie value on the page');
        assert.match(await page.page.textContent('#sessions-status'), /2 live session/);
        await page.screenshot('console-sessions-list');

        // revoke one: asked first (cancel keeps it), then confirmed
        const rowA = page.page.locator('#sessions-list tbody tr', { hasText: 'browser-a/1.0' });
        await rowA.locator('button').click();
        await page.page.waitForSelector('#sessions-confirm:not([hidden])');
        assert.match(await page.page.textContent('#sessions-confirm-text'), /^Revoke session [0-9a-f]{32}\?$/);
        await page.screenshot('console-sessions-confirm');
        await page.page.click('#sessions-confirm-no');
        assert.equal(await page.page.isHidden('#sessions-confirm'), true);
        assert.deepEqual(await seenAs(a), { status: 'active', sub: 'alice' }, 'cancelled: nothing ended');
        await rowA.locator('button').click();
        await page.page.click('#sessions-confirm-yes');
        await page.page.waitForFunction(() => document.querySelectorAll('#sessions-list tbody tr').length === 1);
        assert.match(await page.page.textContent('#sessions-status'), /revoked 1 session/);
        assert.deepEqual((await rowTexts(page)).map((r) => r[4]), ['browser-b/2.0']);
        assert.deepEqual(await seenAs(a), { status: 'anonymous', sub: null }, 'the revoked cookie\'s next request is anonymous: no JWT');
        assert.deepEqual(await seenAs(b), { status: 'active', sub: 'alice' }, 'the other session still works');
        // the counters follow at once: one session ended (the "ended (logout, revoke)" column)
        await page.page.waitForFunction(() => document.querySelector('#sessions-groups tbody tr').cells[8].textContent === '1');
        page.assertClean();
        await page.screenshot('console-sessions-revoked');

        // revoke all
        await page.page.click('#sessions-revoke-all');
        await page.page.waitForSelector('#sessions-confirm:not([hidden])');
        await page.page.click('#sessions-confirm-yes');
        await page.page.waitForFunction(() => /no live session/.test(document.getElementById('sessions-status').textContent));
        assert.equal(await page.page.isHidden('#sessions-revoke-all'), true);
        assert.deepEqual(await seenAs(b), { status: 'anonymous', sub: null });
        assert.deepEqual(await seenAs(other), { status: 'active', sub: 'bob' }, 'another user keeps its session');
        page.assertClean();
        await page.screenshot('console-sessions-revoked-all');
    } finally {
        await page.close();
    }
});

test('issue 13 console sessions: a user id with markup is shown as text; a read-only console session lists but has no revoke button', async () => {
    const markup = '<img src=x onerror=alert(1)>"&amp;';
    const h = await loginAs(markup, '<b>agent</b>');
    const page = await openSessions(READER);
    try {
        await listUser(page, markup, 1);
        const [row] = await rowTexts(page);
        assert.equal(row[4], '<b>agent</b>', 'the user agent as text');
        assert.equal(await page.page.$('#sessions-list img, #sessions-list b'), null, 'no element made from data');
        assert.equal(await page.page.isVisible('#sessions-list tbody button'), false, 'no revoke button for a read-only session');
        assert.equal(await page.page.isVisible('#sessions-revoke-all'), false);
        assert.equal((await seenAs(h)).status, 'active');
        page.assertClean();
        await page.screenshot('console-sessions-read-only');
    } finally {
        await page.close();
    }
});

test('issue 13 console sessions: a user id over 256 bytes is refused on the page before any request, with a message', async () => {
    const page = await openSessions(ADMIN);
    try {
        await page.page.fill('#sessions-user', 'é'.repeat(129));
        await page.page.click('#sessions-user-form button[type=submit]');
        await page.page.waitForFunction(() => /1 to 256 bytes/.test(document.getElementById('sessions-status').textContent));
        page.assertClean();
    } finally {
        await page.close();
    }
});
