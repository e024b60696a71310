// Issue 13 (web console), the cache page in a real Chromium: log in through the form, look a cached URL up (its
// variants, heads and tags), purge it and watch the next request miss (the page's own test fetch shows Cache-Status
// fwd=...-miss, and the origin sees the request again), soft purge then stale, a route purge that asks first, and a
// read-only session without the purge controls. No CSP violation, no console error on any page state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';

const ADMIN = 'cache-page-admin-token-0123456789abcdef';
const READER = 'cache-page-reader-token-0123456789abcdef';

let redis, origin, k, browser;

before(async () => {
    redis = await startRedis();
    origin = await startUpstream((req, res) => {
        const u = new URL(req.url, 'http://origin');
        const lang = req.headers['accept-language'] ?? 'none';
        const headers = u.pathname === '/v'
            ? { 'cache-control': 'max-age=300', vary: 'Accept-Language', 'content-language': lang, 'surrogate-key': `lang page-${lang}` }
            : u.pathname.startsWith('/swr/')
                ? { 'cache-control': 'max-age=300, stale-while-revalidate=60', 'surrogate-key': 'swr' }
                : { 'cache-control': 'max-age=300', 'surrogate-key': 'plain' };
        const body = `<${u.pathname} ${lang}>`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers });
        res.end(body);
    });
    k = await startKvedge({
        threads: 1,
        redis: redis.url,
        admin: { token: ADMIN, read_only_token: READER, console: { enabled: true } },
        routes: [{ path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } }],
    });
    browser = await launchBrowser();
});

after(async () => {
    try {
        await browser?.close();
    } finally {
        if (k) assertCleanExit(await k.stop());
        await origin?.stop();
        await redis?.stop();
    }
});

const seen = (path) => origin.requests.filter((r) => r.url === path).length;

/** GETs `path` (outside the browser) until it is a hit */
async function stored(path, headers = {}) {
    await http('GET', `${k.url}${path}`, { headers });
    await waitFor(async () => /hit/.test((await http('GET', `${k.url}${path}`, { headers })).headers['cache-status']),
        { timeoutMs: 5000, message: `${path} stored` });
}

/** logs in through the form and opens the cache page */
async function cachePage(token) {
    const page = await browser.open(`${k.url}/ui/`);
    await consoleLogin(page, token);
    await page.page.click('a[href="#cache"]');
    await page.page.waitForSelector('#cache:not([hidden])');
    await page.page.waitForFunction(() => document.querySelector('#cache-routes tbody')?.textContent.includes('/api'));
    return page;
}

async function lookUp(p, path) {
    await p.fill('#cache-url', path);
    await p.click('#cache-lookup-form button[type=submit]');
    await p.waitForFunction((u) => document.getElementById('cache-result').textContent.includes(u), path);
}

async function testFetch(p) {
    await p.evaluate(() => document.getElementById('cache-fetch-result').replaceChildren());
    await p.click('#cache-fetch');
    await p.waitForSelector('#cache-fetch-status');
    return p.textContent('#cache-fetch-status');
}

test('issue 13 console: the cache page looks a URL up (variants, heads, tags), purges it, and the next request misses', async () => {
    await stored('/api/v', { 'accept-language': 'en' });
    await stored('/api/v', { 'accept-language': 'de' });
    const page = await cachePage(ADMIN);
    const p = page.page;
    try {
        await lookUp(p, '/api/v');
        await p.waitForFunction(() => document.querySelectorAll('#cache-result .cache-object').length === 2);
        const text = await p.textContent('#cache-result');
        assert.match(text, /accept-language/, 'the Vary list');
        for (const s of ['page-en', 'page-de', 'lang', 'content-language', 'fresh for']) assert.ok(text.includes(s), s);
        const tags = await p.$$eval('#cache-result .cache-tag', (els) => els.map((e) => e.textContent).sort());
        assert.deepEqual(tags, ['lang', 'lang', 'page-de', 'page-en']);
        page.assertClean();
        await page.screenshot('console-cache');

        const before = seen('/v');
        await p.click('#cache-purge-url');
        await p.waitForFunction(() => /purge of .*: 2 object/.test(document.getElementById('cache-purge-result').textContent));
        await p.waitForSelector('#cache-not-cached');
        assert.match(await testFetch(p), /fwd=(uri|vary)-miss/, 'the next request misses');
        assert.equal(seen('/v'), before + 1, 'the origin saw it');
        page.assertClean();
        await page.screenshot('console-cache-purged');
    } finally {
        await page.close();
    }
});

test('issue 13 console: soft purge from the cache page: the object stays, shown stale, and the next request is served stale', async () => {
    await stored('/api/swr/a');
    const page = await cachePage(ADMIN);
    const p = page.page;
    try {
        await lookUp(p, '/api/swr/a');
        assert.match(await testFetch(p), /hit/);
        await p.click('#cache-soft-url');
        await p.waitForFunction(() => /soft purge of .*: 1 object/.test(document.getElementById('cache-purge-result').textContent));
        await p.waitForSelector('#cache-result .cache-stale');
        assert.match(await testFetch(p), /stale/, 'served stale');
        page.assertClean();
        await page.screenshot('console-cache-soft');
    } finally {
        await page.close();
    }
});

test('issue 13 console: purge by tag, and a route purge that asks first (dismissed: nothing purged; accepted: all)', async () => {
    await stored('/api/t/one');
    await stored('/api/t/two');
    const page = await cachePage(ADMIN);
    const p = page.page;
    try {
        await p.fill('#cache-tag', 'plain');
        await p.click('#cache-tag-form button[type=submit]');
        await p.waitForFunction(() => /purge of tag plain: 2 object/.test(document.getElementById('cache-purge-result').textContent));
        await stored('/api/t/one');
        await p.selectOption('#cache-route', '/api');
        p.once('dialog', (d) => d.dismiss());
        await p.click('#cache-route-form button[type=submit]');
        await p.waitForTimeout(300);
        assert.equal(await p.textContent('#cache-purge-result'), 'purge of tag plain: 2 object(s)', 'nothing done');
        assert.match((await http('GET', `${k.url}/api/t/one`)).headers['cache-status'], /hit/);
        let asked = '';
        p.once('dialog', (d) => {
            asked = d.message();
            d.accept();
        });
        await p.click('#cache-route-form button[type=submit]');
        await p.waitForFunction(() => /purge of route \/api: \d+ object/.test(document.getElementById('cache-purge-result').textContent));
        assert.match(asked, /Purge every object of route \/api\?/);
        assert.match((await http('GET', `${k.url}/api/t/one`)).headers['cache-status'], /fwd=uri-miss/);
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console: a read-only session sees the cache page without its purge controls', async () => {
    await stored('/api/t/ro');
    const page = await cachePage(READER);
    const p = page.page;
    try {
        assert.equal(await p.isHidden('#cache .cache-write'), true);
        assert.equal(await p.isVisible('#cache .cache-read-only'), true);
        await lookUp(p, '/api/t/ro');
        await p.waitForSelector('#cache-result .cache-object');
        page.assertClean();
        await page.screenshot('console-cache-read-only');
    } finally {
        await page.close();
    }
});
