// Issue 13 (web console): the real-browser harness (browser.mjs) proven on what kvedge serves today. Headless
// Debian Chromium opens kvedge's /healthz and /metrics and a page proxied through a kvedge route, reports console
// errors and CSP violations (how the console's tests assert "no inline script"), keeps every request on 127.0.0.1
// and leaves no process behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { assertCleanExit, startKvedge, startUpstream } from './harness.mjs';
import { launchBrowser, pidsNaming, screenshotDir } from './browser.mjs';

// A strict CSP, the one the console will send: scripts and styles from the page's own origin only.
const STRICT_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const pages = {
    '/app/inline.html':
        '<!doctype html><html><head><title>before</title><script src="/app/external.js"></script></head>' +
        '<body><p id="p">csp page</p><script>document.title = "inline ran";</script></body></html>',
    '/app/clean.html':
        '<!doctype html><html><head><title>clean</title><script src="/app/external.js"></script></head>' +
        '<body><p id="p">clean page</p></body></html>',
    '/app/external.js': 'document.documentElement.dataset.external = "ran";\n',
    // no CSP on this one (its connect-src 'self' would stop the fetches first): the page itself tries to leave the
    // machine, and the harness's loopback rule is what is tested
    '/app/offsite.html':
        '<!doctype html><html><head><title>offsite</title></head><body><p>offsite</p><ul id="r"></ul><script>' +
        'for (const u of new URLSearchParams(location.search).getAll("u")) fetch(u).then(' +
        '(r) => "answered " + r.status, (e) => "failed: " + e.message).then((t) => {' +
        'const li = document.createElement("li"); li.textContent = u + " " + t; document.getElementById("r").append(li); });' +
        '</script></body></html>',
};
const NO_CSP = new Set(['/app/offsite.html']);
const upstream = await startUpstream((req, res) => {
    const pathname = req.url.split('?')[0];
    const body = pages[pathname];
    if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
        return;
    }
    const headers = { 'content-type': pathname.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) };
    if (!NO_CSP.has(pathname)) headers['content-security-policy'] = STRICT_CSP;
    res.writeHead(200, headers);
    res.end(body);
});
const k = await startKvedge({ threads: 1, admin: { path: '/_admin/' }, routes: [{ path: '/app', upstream: `${upstream.url}/app` }] });
const browser = await launchBrowser();
const profileDir = browser.profileDir;

after(async () => {
    try {
        await browser.close();
    } finally {
        assertCleanExit(await k.stop());
        await upstream.stop();
    }
});

test('issue 13 console (browser harness): /healthz in headless Chromium: the text, a screenshot, no console error', async (t) => {
    const page = await browser.open(`${k.adminUrl}healthz`);
    try {
        assert.equal(page.response.status(), 200);
        assert.match(await page.text(), /ok/i);
        const file = await page.screenshot('browser-healthz');
        assert.ok(fs.statSync(file).size > 100, `${file} is a PNG`);
        assert.deepEqual([...fs.readFileSync(file).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
        page.assertClean();
        const mem = browser.memoryKiB();
        t.diagnostic(`screenshot ${file}; chromium: ${browser.pids().length} processes, PSS ${Math.round(mem.pss / 1024)} MiB ` +
            `(RSS summed ${Math.round(mem.rss / 1024)} MiB)`);
    } finally {
        await page.close();
    }
});

test('issue 13 console (browser harness): /metrics in headless Chromium shows kvedge series, no console error', async () => {
    const page = await browser.open(`${k.adminUrl}metrics`);
    try {
        assert.equal(page.response.status(), 200);
        const text = await page.text();
        assert.match(text, /^# (HELP|TYPE) kvedge_/m);
        assert.match(text, /^process_resident_memory_bytes \d+/m);
        await page.screenshot('browser-metrics');
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console (browser harness): an inline script on a page with a strict CSP (through a kvedge route) is reported as a CSP violation', async () => {
    const page = await browser.open(`${k.url}/app/inline.html`);
    try {
        assert.equal(page.response.status(), 200);
        assert.equal(page.response.headers()['content-security-policy'], STRICT_CSP, 'kvedge passes the CSP through');
        // the page's own external script ran ('self'), the inline one did not
        assert.equal(await page.page.evaluate(() => document.documentElement.dataset.external), 'ran');
        assert.equal(await page.page.title(), 'before');
        assert.equal(page.cspViolations.length, 1, JSON.stringify(page.cspViolations));
        const [v] = page.cspViolations;
        assert.equal(v.directive, 'script-src-elem');
        assert.equal(v.blockedURI, 'inline');
        assert.equal(v.disposition, 'enforce');
        // Chromium also logs it as a console error, and assertClean() fails on it
        assert.ok(page.consoleErrors.some((e) => /Content Security Policy/.test(e.text)), JSON.stringify(page.consoleErrors));
        assert.throws(() => page.assertClean(), /cspViolations/);
        await page.screenshot('browser-csp-inline');
    } finally {
        await page.close();
    }
    // the control: the same page without the inline script is clean
    const clean = await browser.open(`${k.url}/app/clean.html`);
    try {
        assert.equal(await clean.page.evaluate(() => document.documentElement.dataset.external), 'ran');
        clean.assertClean();
    } finally {
        await clean.close();
    }
});

/** Open offsite.html, which fetches each of urls, and wait for its list of outcomes ("<url> failed: ..."). */
async function openOffsite(b, urls) {
    const query = urls.map((u) => `u=${encodeURIComponent(u)}`).join('&');
    const page = await b.open(`${k.url}/app/offsite.html?${query}`);
    await page.page.waitForFunction((n) => document.querySelectorAll('#r li').length === n, urls.length, { timeout: 10_000 });
    const results = await page.page.$$eval('#r li', (lis) => lis.map((li) => li.textContent));
    return { page, results };
}

test('issue 13 console (browser harness): a request to a non-loopback address is blocked before it is sent', async () => {
    const before = browser.sinkConnections.length;
    const { page, results } = await openOffsite(browser, ['http://192.0.2.1/']);
    try {
        assert.deepEqual(results, ['http://192.0.2.1/ failed: Failed to fetch']);
        assert.deepEqual(page.blocked, [{ url: 'http://192.0.2.1/', method: 'GET' }]);
        assert.ok(page.failed.some((f) => f.url === 'http://192.0.2.1/' && /BLOCKED_BY_CLIENT/.test(f.failure)), JSON.stringify(page.failed));
        assert.throws(() => page.assertClean(), /blocked/);
        // blocked in the browser: not even the local sink proxy saw it
        assert.equal(browser.sinkConnections.slice(before).filter((c) => c.firstLine.includes('192.0.2.1')).length, 0);
    } finally {
        await page.close();
    }
});

test('issue 13 console (browser harness): without the request rule, off-machine requests still only reach the local sink proxy', async () => {
    // Layers 2 and 3 alone (Chromium's flags): a second browser with the route rule off. The request must arrive at
    // the harness's sink on 127.0.0.1 as a proxy request, which proves Chromium did not connect to 192.0.2.1 itself.
    const bare = await launchBrowser({ routeLoopbackOnly: false });
    try {
        const { page, results } = await openOffsite(bare, ['http://192.0.2.1/', 'http://kvedge-test.example/x']);
        assert.deepEqual(results.map((r) => / failed: /.test(r)), [true, true], JSON.stringify(results));
        assert.deepEqual(page.blocked, [], 'the route rule is off in this browser');
        const lines = bare.sinkConnections.map((c) => c.firstLine);
        assert.ok(lines.includes('GET http://192.0.2.1/ HTTP/1.1'), JSON.stringify(lines));
        assert.ok(lines.includes('GET http://kvedge-test.example/x HTTP/1.1'), JSON.stringify(lines));
        // and the page itself, on 127.0.0.1, bypassed the sink
        assert.ok(!lines.some((l) => l.includes('127.0.0.1')), JSON.stringify(lines));
        await page.close();
    } finally {
        await bare.close();
    }
    assert.deepEqual(bare.pids(), []);
});

test('issue 13 console (browser harness): close() leaves no Chromium process and removes the profile', async () => {
    const extra = await launchBrowser();
    const pid = extra.pid;
    assert.ok(extra.pids().includes(pid));
    assert.ok(extra.pids().length > 1, 'chromium forks its zygote, renderers and utilities');
    assert.ok(fs.existsSync(extra.profileDir));
    const page = await extra.open(`${k.adminUrl}healthz`);
    assert.match(await page.text(), /ok/i);
    await extra.close(); // without closing the page first: close() takes care of it
    assert.deepEqual(extra.pids(), []);
    assert.deepEqual(pidsNaming(extra.profileDir), [], 'no crashpad handler left either');
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' });
    assert.equal(fs.existsSync(extra.profileDir), false);
    assert.ok(fs.existsSync(screenshotDir()));
    assert.ok(browser.pids().length > 0, 'the file-wide browser is untouched');
    assert.ok(pidsNaming(profileDir).length > 0);
});
