// Issue 13 (web console), the overview page in a real Chromium: log in through the form, send traffic through a cached
// route (misses, hits, a 404, a 5xx of the upstream) and a session route (a login, a request with its session), and
// watch the page's numbers and graphs follow (the DOM is polled, as the page polls the server every 2 s); the store
// link's state, up and then down once its Redis is gone; the graphs are full when a second page opens (the server
// keeps the history); the config page with a pasted check. Screenshots: console-overview, console-config.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, startKvedge, startRedis, startUpstream, waitFor } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';

const ADMIN = 'console-admin-token-0123456789abcdef';
const KEY = 'session-test-key-0123456789abcdef-0123456789';

// the upstream of both routes: /fresh/* cacheable, /boom a 500, /login?u= a session login, anything else 404
const origin = await startUpstream((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, headers, body) => {
        res.writeHead(status, { 'content-length': Buffer.byteLength(body), 'content-type': 'application/json', ...headers });
        res.end(body);
    };
    if (url.pathname.startsWith('/fresh/')) return send(200, { 'cache-control': 'max-age=60' }, JSON.stringify({ url: req.url }));
    if (url.pathname === '/boom') return send(500, { 'cache-control': 'no-store' }, '{"error":"boom"}');
    if (url.pathname === '/login') return send(200, { 'x-session-login': JSON.stringify({ sub: url.searchParams.get('u') }) }, '{}');
    if (url.pathname === '/me') return send(200, { 'cache-control': 'private' }, JSON.stringify({ jwt: !!req.headers['x-session-jwt'] }));
    return send(404, {}, '{}');
});
const redis = await startRedis();
const k = await startKvedge({
    threads: 2, // one worker samples the history; the store links of both are shown
    redis: redis.url,
    admin: { token: ADMIN, console: { enabled: true } },
    routes: [
        { path: '/api', upstream: `${origin.url}/`, cache: { store_timeout: '2s' } },
        { path: '/app', upstream: `${origin.url}/`, session: { mode: 'optional', write: true, jwt_key: KEY, store_timeout: '2s' } },
    ],
});
const browser = await launchBrowser();
after(async () => {
    try {
        await browser.close();
    } finally {
        try {
            assertCleanExit(await k.stop());
        } finally {
            await redis.stop();
            await origin.stop();
        }
    }
});

const VIEWPORT = { width: 1200, height: 780 };

async function login() {
    const page = await browser.open(`${k.url}/ui/`, { viewport: VIEWPORT });
    await consoleLogin(page, ADMIN);
    await page.page.waitForSelector('#overview:not([hidden])');
    return page;
}

// the cells of the table row whose first cell is `first` (null when there is none)
function row(page, table, first) {
    return page.page.evaluate(([t, f]) => {
        const tr = [...document.querySelectorAll(`#${t} tbody tr`)].find((r) => r.cells[0].textContent === f);
        return tr ? [...tr.cells].map((c) => c.textContent) : null;
    }, [table, first]);
}

// waits until the page's row `first` of `table` passes `ok(cells)`; returns the cells
async function waitRow(page, table, first, ok, message) {
    return waitFor(async () => {
        const cells = await row(page, table, first);
        return cells && ok(cells) ? cells : null;
    }, { timeoutMs: 20_000, intervalMs: 200, message });
}

// a graph's {points, max} (data attributes overview.js sets on each SVG)
function graph(page, id) {
    return page.page.evaluate((i) => {
        const svg = document.querySelector(`#ov-${i} svg`);
        return svg ? { points: Number(svg.dataset.points), max: Number(svg.dataset.max), path: !!svg.querySelector('path.line') } : null;
    }, id);
}

test('issue 13 console: the overview follows traffic: per-route statuses, latency, cache hits, sessions, store links, graphs', async () => {
    const page = await login();
    try {
        // the store's link on each of the two workers, up
        await waitRow(page, 'stores', 'default', (c) => c[1] === '0' && c[2] === 'up', 'the store link up');
        assert.deepEqual(await page.page.$$eval('#stores tbody tr', (rs) => rs.map((r) => [...r.cells].slice(0, 3).map((c) => c.textContent))),
            [['default', '0', 'up'], ['default', '1', 'up']]);
        // traffic: a miss then two hits, a 404, two 5xx of the upstream, a session login and a request with it
        assert.equal((await http('GET', `${k.url}/api/fresh/a`)).status, 200);
        await waitFor(async () => (await redis.client().keys('kvc1:*')).length > 0, { message: 'the object stored' });
        for (let i = 0; i < 2; ++i) assert.equal((await http('GET', `${k.url}/api/fresh/a`)).headers['cache-status']?.includes('hit'), true);
        assert.equal((await http('GET', `${k.url}/api/nothing`)).status, 404);
        for (let i = 0; i < 2; ++i) assert.equal((await http('GET', `${k.url}/api/boom`)).status, 500);
        const loginRes = await http('GET', `${k.url}/app/login?u=alice`);
        assert.equal(loginRes.status, 200);
        const cookie = /^([^;]*)/.exec([].concat(loginRes.headers['set-cookie'])[0])[1];
        assert.equal(JSON.parse((await http('GET', `${k.url}/app/me`, { headers: { cookie } })).body).jwt, true);

        // the route's row: 6 requests, 3 2xx, 1 4xx, 2 5xx, latency, 2 hits of 6 lookups (the 404 and the 5xx are misses
        // too), stored bytes
        const api = await waitRow(page, 'routes', 'proxy:/api', (c) => c[1] === '6', 'proxy:/api with 6 requests');
        assert.deepEqual([api[4], api[6], api[7]], ['3', '1', '2'], `statuses ${api}`);
        assert.match(api[8], /^\d+\.\d$/, 'p50');
        assert.match(api[9], /^\d+\.\d$/, 'p99');
        assert.deepEqual([api[10], api[11], api[12]], ['33 %', '2', '4'], `cache ${api}`);
        assert.match(api[13], /^\d+(\.\d)? (B|KiB)$/, 'stored bytes');
        // the session route: one session created, one request carrying it
        const ses = await waitRow(page, 'ov-sessions', 'proxy:/app', (c) => c[1] === '1' && c[2] === '1', 'a session created and loaded');
        assert.equal(await page.page.isVisible('#ov-sessions'), true);
        assert.equal(ses[4], '0', 'nothing expired');
        // sessions active: the one logged-in session that made a request (the sessions page's count, api/sessions)
        await page.page.waitForFunction(() => /: 1 logged in, 0 anonymous$/.test(document.getElementById('ov-active').textContent),
            null, { timeout: 20_000 });

        // a few more seconds of traffic, so the graphs (and the screenshot) have a shape
        for (let round = 1; round <= 4; ++round) {
            const sends = [];
            for (let i = 0; i < 3 * round; ++i) sends.push(http('GET', `${k.url}/api/fresh/${i % 3}`));
            if (round % 2 === 0) sends.push(http('GET', `${k.url}/api/boom`));
            sends.push(http('GET', `${k.url}/app/me`, { headers: { cookie } }));
            await Promise.all(sends);
            await new Promise((r) => setTimeout(r, 1500));
        }

        // the graphs: each has points (one per 2 s) and, once the server sampled the traffic, a peak above 0
        const peaks = await waitFor(async () => {
            const g = { rps: await graph(page, 'rps'), err: await graph(page, 'err'), hit: await graph(page, 'hit'),
                ses: await graph(page, 'ses'), p99: await graph(page, 'p99') };
            return Object.values(g).every((x) => x && x.points > 0 && x.max > 0 && x.path) ? g : null;
        }, { timeoutMs: 20_000, intervalMs: 250, message: 'every graph drawn with a peak above 0' });
        assert.ok(peaks.rps.max >= 8 / 2 / 2, `requests/s peak ${peaks.rps.max}`); // 8 requests in at most 2 intervals of 2 s
        assert.ok(peaks.hit.max > 0 && peaks.hit.max <= 1, `hit ratio ${peaks.hit.max}`);
        assert.match(await page.page.textContent('#ov-facts'), /console sessions/);
        // the route's own sparkline in its row: its requests/s of the last minutes
        const routeGraph = await page.page.evaluate(() => {
            const tr = [...document.querySelectorAll('#routes tbody tr')].find((r) => r.cells[0].textContent === 'proxy:/api');
            const svg = tr.cells[3].querySelector('svg');
            return svg ? { points: Number(svg.dataset.points), max: Number(svg.dataset.max) } : null;
        });
        assert.ok(routeGraph && routeGraph.points > 0 && routeGraph.max > 0, `proxy:/api's sparkline ${JSON.stringify(routeGraph)}`);
        page.assertClean();
        await page.screenshot('console-overview');

        // a second page opens with the graphs already drawn: the history is the server's, not the page's
        const second = await login();
        try {
            const g = await graph(second, 'err');
            assert.ok(g.points >= peaks.err.points && g.max > 0, `the new page's 5xx graph: ${JSON.stringify(g)}`);
            second.assertClean();
        } finally {
            await second.close();
        }
    } finally {
        await page.close();
    }
});

test('issue 13 console: the config page shows the check of a pasted configuration', async () => {
    const page = await login();
    try {
        await page.page.click('a[href="#config"]');
        await page.page.waitForFunction(() => document.getElementById('config-text').textContent.includes('"console"'));
        await page.page.fill('#check-text', 'listen:\n  - host: 127.0.0.1\n    port: 8080\nroutes:\n  - path: /api\n    tll: 5s\n');
        await page.page.click('#check');
        await page.page.waitForFunction(() => document.getElementById('check-result').textContent.startsWith('invalid'));
        assert.match(await page.page.textContent('#check-result'), /tll/);
        page.assertClean();
        await page.page.locator('#check-result').scrollIntoViewIfNeeded();
        await page.screenshot('console-config', { fullPage: false });
    } finally {
        await page.close();
    }
});

test('issue 13 console: api/history: points after a sequence number, a bad one refused, the history kept across a reload', async () => {
    const loginRes = await http('POST', `${k.url}/ui/login`, { body: `token=${ADMIN}`,
        headers: { origin: k.url, 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(loginRes.status, 303);
    const cookie = /^([^;]*)/.exec([].concat(loginRes.headers['set-cookie'])[0])[1];
    const history = async (query = '') => {
        const r = await http('GET', `${k.url}/ui/api/history${query}`, { headers: { cookie } });
        return { status: r.status, json: JSON.parse(r.body) };
    };
    const first = await waitFor(async () => {
        const h = (await history()).json;
        return h.points.length >= 2 ? h : null;
    }, { message: 'two points' });
    assert.equal(first.interval_ms, 2000);
    assert.equal(first.capacity, 300);
    assert.equal(first.points[first.points.length - 1].seq, first.last);
    assert.ok(first.routes.includes('proxy:/api') && first.routes.includes('admin'), JSON.stringify(first.routes));
    for (const p of first.points) {
        for (const f of ['t', 'rps', 'rps_4xx', 'rps_5xx', 'sessions_loaded_s', 'sessions_created_s']) assert.equal(typeof p[f], 'number', f);
        assert.equal(p.route_rps.length, first.routes.length);
    }
    const after = await history(`?after=${first.last - 1}`);
    assert.equal(after.status, 200);
    assert.ok(after.json.points.length >= 1 && after.json.points.every((p) => p.seq >= first.last), JSON.stringify(after.json));
    for (const bad of ['?after=abc', '?after=-1', '?after=', '?after=1&after=2', '?after=123456789012345678901234'])
        assert.equal((await history(bad)).status, 400, bad);
    // SIGHUP: a new generation; the history (one per process) and the console session are kept
    k.kill('SIGHUP');
    await waitFor(() => /configuration 2 serving/.test(k.stderr() + k.stdout()), { message: 'the reload done' });
    const later = await waitFor(async () => {
        const h = (await history()).json;
        return h.last >= first.last + 2 ? h : null;
    }, { message: 'new samples after the reload' });
    assert.equal(later.points[0].seq, first.points[0].seq, 'the points from before the reload are still there');
    for (let i = 1; i < later.points.length; ++i) {
        const [a, b] = [later.points[i - 1], later.points[i]];
        assert.equal(b.seq, a.seq + 1, 'in order, none missing');
        // one sample per interval: the two generations' timers never both sample (1.5 s apart at least)
        assert.ok(b.t - a.t >= 1.45, `points ${a.seq} and ${b.seq} are ${(b.t - a.t).toFixed(3)} s apart`);
    }
});

test('issue 13 console: the overview shows the store link down once its Redis is gone', async () => {
    const page = await login();
    try {
        await waitRow(page, 'stores', 'default', (c) => c[2] === 'up', 'the store link up');
        await redis.kill('SIGKILL');
        const cells = await waitRow(page, 'stores', 'default', (c) => c[2] !== 'up', 'the store link not up');
        assert.match(cells[2], /^(down|connecting)$/);
        assert.equal(await page.page.evaluate(() => document.querySelector('#stores tbody tr').className), 'down');
        page.assertClean();
    } finally {
        await page.close();
    }
});
