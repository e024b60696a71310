// Issue 13 (web console): "fail to do any of it without the token or from another origin", in a real Chromium. The
// admin is logged in; a page of another origin, in the same browser, then tries what a malicious site would: form
// POSTs to api/logout-all and api/check, a credentialed fetch of api/overview (reading it), a fetch POST, a
// preflighted POST with a guessed CSRF header, and framing the console. Two attackers: a cross-site one
// (http://localhost:P: the SameSite=Strict cookie is not sent at all, kvedge answers 401) and a same-site one on
// another port (http://127.0.0.1:P: the cookie is sent, kvedge's Origin check answers 403). Whatever they try, the
// admin's session still works and nothing was logged out; neither can read the JSON (CORS); the frame is refused.
// Without a login the page shows the login form only, and every API answers 401.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startKvedge, startUpstream, waitFor } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';

const ADMIN = 'console-admin-token-0123456789abcdef';
const k = await startKvedge({ threads: 1, log: { access_log: '-', access_log_format: 'json' }, admin: { token: ADMIN, console: { enabled: true } } });
const CONSOLE = `${k.url}/ui/`;

// the attacker's site: a page and its own script (no inline script: the test would not tell a CSP refusal apart)
const EVIL_JS = `'use strict';
window.results = {};
async function attempt(name, fn) {
    try {
        window.results[name] = await fn();
    } catch (e) {
        window.results[name] = 'error: ' + e.name;
    }
}
async function run() {
    const base = document.body.dataset.console;
    await attempt('read', async () => (await fetch(base + 'api/overview', { credentials: 'include' })).text());
    await attempt('post', async () => (await fetch(base + 'api/logout-all', { method: 'POST', credentials: 'include', mode: 'no-cors',
        body: 'x' })).type);
    await attempt('preflighted', async () => (await fetch(base + 'api/logout-all', { method: 'POST', credentials: 'include',
        headers: { 'X-Console-CSRF': 'guessed' } })).status);
    document.getElementById('logout-all').submit();
    document.getElementById('check').submit();
    const frame = document.createElement('iframe');
    frame.id = 'framed';
    frame.src = base;
    document.body.append(frame);
    window.results.done = true;
}
document.addEventListener('DOMContentLoaded', () => run());
`;
const evilHtml = () => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>another site</title>
<script src="/evil.js" defer></script></head>
<body data-console="${CONSOLE}">
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="logout-all" method="post" target="sink1" action="${CONSOLE}api/logout-all"><input name="token" value="x"></form>
<form id="check" method="post" target="sink2" enctype="text/plain" action="${CONSOLE}api/check"><input name="listen" value="x"></form>
</body></html>`;
const evil = await startUpstream((req, res) => {
    const send = (type, body) => {
        res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(body);
    };
    if (req.url === '/evil.js') return send('text/javascript', EVIL_JS);
    return send('text/html; charset=utf-8', evilHtml());
});

const browser = await launchBrowser();
after(async () => {
    try {
        await browser.close();
    } finally {
        try {
            assertCleanExit(await k.stop());
        } finally {
            await evil.stop();
        }
    }
});

async function login() {
    const page = await browser.open(CONSOLE);
    await consoleLogin(page, ADMIN);
    await page.page.waitForSelector('#overview:not([hidden])');
    return page;
}

// the console's view of the admin's session, asked from the admin's own page (its cookie, its CSRF token)
function adminView(admin) {
    return admin.page.evaluate(async () => {
        const s = await kve.api('GET', 'api/session');
        const o = await kve.api('GET', 'api/overview');
        return { readOnly: s.read_only, consoleSessions: o.console_sessions };
    });
}

// what kvedge's JSON access log (stdout) shows of the console's path from offset `from` on: [{method, path, status}]
function consoleLog(from) {
    return k.stdout().slice(from).split('\n').filter((l) => l.startsWith('{') && l.includes('"/ui/'))
        .map((l) => JSON.parse(l)).map(({ method, path, status }) => ({ method, path, status }));
}

/**
 * Opens the attacker's page at `evilOrigin` in the admin's browser context (the admin's cookie jar), waits until kvedge
 * answered each attempt, and returns what kvedge's access log shows of them ({method, path, status}), the page's
 * results, and what Chromium reported on its console.
 */
async function attack(admin, evilOrigin) {
    const page = await admin.context.newPage();
    const messages = [];
    page.on('console', (m) => messages.push(m.text()));
    const from = k.stdout().length;
    await page.goto(`${evilOrigin}/evil.html`);
    await page.waitForFunction(() => window.results?.done === true);
    const seen = await waitFor(() => {
        const log = consoleLog(from);
        const count = (m, p) => log.filter((s) => s.method === m && s.path === p).length;
        const all = count('POST', '/ui/api/logout-all') >= 2 && count('POST', '/ui/api/check') >= 1 && count('GET', '/ui/api/overview') >= 1 &&
            count('GET', '/ui/') >= 1;
        return all ? log : null;
    }, { timeoutMs: 15_000, message: `every attempt reached kvedge: ${JSON.stringify(consoleLog(from))}` });
    const refused = await waitFor(() => messages.find((m) => /frame-ancestors|X-Frame-Options/.test(m)), {
        timeoutMs: 10_000, message: `Chromium reports the refused frame: ${JSON.stringify(messages)}` }).catch((e) => e.message);
    const results = await page.evaluate(() => window.results);
    const frames = page.frames().map((f) => f.url());
    await page.close();
    return { seen, results, messages, refused, frames };
}

// the frame of the console was refused: Chromium says so, and no frame of the page shows the console
function assertFrameRefused({ refused, frames }) {
    assert.match(refused, /frame-ancestors 'none'|X-Frame-Options/, 'Chromium reports the refusal');
    assert.ok(!frames.includes(CONSOLE), `a frame shows the console: ${JSON.stringify(frames)}`);
}

test('issue 13 console: a cross-site page cannot use the admin\'s session: no cookie sent (SameSite=Strict), 401, nothing readable', async () => {
    const admin = await login();
    try {
        const before = await adminView(admin);
        assert.equal(before.consoleSessions, 1);
        const attempt = await attack(admin, evil.url.replace('127.0.0.1', 'localhost'));
        // kvedge answers 401 ("login required") to every API attempt: the cookie never came with them (with it, the
        // GET would be 200 and the POSTs 403, as the same-site test shows)
        const api = attempt.seen.filter((s) => s.path.startsWith('/ui/api/'));
        assert.ok(api.length >= 4, JSON.stringify(attempt.seen));
        for (const s of api) assert.equal(s.status, 401, `${s.method} ${s.path}: ${s.status}`);
        assert.equal(attempt.results.read, 'error: TypeError', 'the cross-origin fetch cannot read the JSON (CORS)');
        assert.equal(attempt.results.post, 'opaque', 'a no-cors POST gets an opaque answer');
        assert.equal(attempt.results.preflighted, 'error: TypeError', 'a POST with a custom header fails its preflight');
        assert.ok(!attempt.seen.some((s) => s.method === 'OPTIONS' && s.status < 300), 'no preflight allowed');
        assertFrameRefused(attempt);
        assert.deepEqual(await adminView(admin), before, 'the admin\'s session works and no console session was ended');
        admin.assertClean();
    } finally {
        await admin.close();
    }
});

test('issue 13 console: a same-site page of another origin gets the cookie sent but is refused (Origin check, 403), cannot read', async () => {
    const admin = await login();
    try {
        const before = await adminView(admin);
        const attempt = await attack(admin, evil.url);
        // the cookie went (same site: SameSite=Strict does not stop it; the GET is answered 200), so kvedge itself refuses
        // every POST: the Origin is not its own (403)
        const posts = attempt.seen.filter((s) => s.method === 'POST');
        assert.ok(posts.length >= 3, JSON.stringify(attempt.seen));
        for (const s of posts) assert.equal(s.status, 403, `${s.path}: ${s.status}`);
        assert.equal(attempt.seen.find((s) => s.path === '/ui/api/overview').status, 200, 'the cookie was sent');
        assert.equal(attempt.results.read, 'error: TypeError', 'the cross-origin fetch cannot read the JSON (no CORS headers)');
        assert.equal(attempt.results.preflighted, 'error: TypeError', 'a POST with a custom header fails its preflight');
        assertFrameRefused(attempt);
        assert.deepEqual(await adminView(admin), before, 'the admin\'s session works and no console session was ended');
        admin.assertClean();
    } finally {
        await admin.close();
    }
});

test('issue 13 console: the admin\'s own page without the CSRF header cannot change anything (403)', async () => {
    const admin = await login();
    try {
        const before = await adminView(admin);
        admin.assertClean();
        const status = await admin.page.evaluate(async () => (await fetch('api/logout-all', { method: 'POST', body: 'x' })).status);
        assert.equal(status, 403);
        assert.deepEqual(await adminView(admin), before, 'nothing logged out');
    } finally {
        await admin.close();
    }
});

test('issue 13 console: without a login the page shows the login form only and every API answers 401', async () => {
    const page = await browser.open(`${CONSOLE}#overview`);
    try {
        await page.page.waitForSelector('#login:not([hidden])');
        const visible = await page.page.$$eval('main > section', (ss) => ss.filter((s) => !s.hidden).map((s) => s.id));
        assert.deepEqual(visible, ['login']);
        assert.equal(await page.page.isHidden('#nav'), true);
        await page.screenshot('console-login-only');
        page.assertClean();
        const statuses = await page.page.evaluate(async () => {
            const out = {};
            for (const p of ['api/overview', 'api/history', 'api/session', 'api/config'])
                out[p] = (await fetch(p)).status;
            return out;
        });
        assert.deepEqual(statuses, { 'api/overview': 401, 'api/history': 401, 'api/session': 401, 'api/config': 401 });
    } finally {
        await page.close();
    }
});
