// Issue 7, named stores: a `stores:` section next to `redis:` (the store named "default"), `kv.store` choosing the
// store the KV API serves, one link per store per thread, /readyz over every store on every thread, /metrics with a
// `store` label, the configuration errors (file:line:column) and today's files (only `redis:`, or nothing) unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Redis from 'ioredis';
import { assertCleanExit, freePort, http, makeTempDir, runKvedge, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { RO_TOKEN, RW_TOKEN } from './kv_helpers.mjs';

const TOKENS = [{ token: RW_TOKEN }, { token: RO_TOKEN, access: 'read-only' }];
const NOT_READY = '(kv store connection failed|kv store unavailable|kv command timed out)';

async function kv(k, command, token = RW_TOKEN) {
    const r = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(command) });
    return { status: r.status, body: JSON.parse(r.body) };
}

/** every sample of `name` in /metrics: {'store=central,thread=0': 1, ...} (labels in the order written) */
async function samples(k, name) {
    const body = (await http('GET', `${k.url}/metrics`)).body;
    const out = {};
    for (const m of body.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\d+)$`, 'gm'))) out[m[1].replace(/"/g, '')] = Number(m[2]);
    return out;
}

/** the link gauges expected for `stores` ({name: 0|1}) on `threads` threads */
function links(stores, threads) {
    const out = {};
    for (const [name, up] of Object.entries(stores)) for (let t = 0; t < threads; t++) out[`store=${name},thread=${t}`] = up;
    return out;
}

async function readyz(k) {
    const r = await http('GET', `${k.url}/readyz`);
    return { status: r.status, body: r.body };
}

/** `kvedge -t` on the YAML text: {code, stderr}, the file named kvedge.yaml in the messages */
async function check(yaml) {
    const file = writeConfig(yaml);
    return runKvedge(['-t', '-c', 'kvedge.yaml'], { cwd: path.dirname(file) });
}

function embeddedClient(k) {
    return new Redis({ path: path.join(k.config.data_dir, 'redis.sock'), maxRetriesPerRequest: 1, lazyConnect: true });
}

test('issue 7: kv.store: central: KV API writes land in the central Redis, not in the embedded default one', async () => {
    const central = await startRedis();
    const io = central.client();
    let k, local;
    try {
        k = await startKvedge({ threads: 2, redis: 'embedded', stores: { central: central.url }, kv: { store: 'central', tokens: TOKENS } },
            { waitReady: true });
        local = embeddedClient(k);
        await local.connect();
        for (let i = 0; i < 8; i++) assert.deepEqual(await kv(k, ['SET', `w${i}`, `v${i}`]), { status: 200, body: { result: 'OK' } });
        assert.deepEqual(await kv(k, ['GET', 'w3'], RO_TOKEN), { status: 200, body: { result: 'v3' } });
        assert.equal(await io.get('w7'), 'v7', 'the write is in the central Redis');
        assert.equal(await io.dbsize(), 8, 'only the writes (sync tokens write no key)');
        assert.deepEqual(await local.keys('*'), [], 'nothing in the embedded (default) Redis');
        // what the central Redis holds is what the API reads
        await io.set('from-outside', 'central');
        assert.deepEqual(await kv(k, ['GET', 'from-outside']), { status: 200, body: { result: 'central' } });
        await local.set('only-local', 'x');
        assert.deepEqual(await kv(k, ['GET', 'only-local']), { status: 200, body: { result: null } });
        // both stores have their links on both threads
        assert.deepEqual(await samples(k, 'kvedge_kv_link_up'), links({ default: 1, central: 1 }, 2));
        assert.match(k.stderr(), /kvedge \S+ started \(config \S+, 2 stores, one of them the embedded redis-server\)/);
    } finally {
        local?.disconnect();
        io.disconnect();
        if (k) assertCleanExit(await k.stop());
        await central.stop();
    }
});

test('issue 7: /readyz covers every store on every thread; the KV API on the other store keeps answering; both recover', async () => {
    const dflt = await startRedis();
    const central = await startRedis();
    let k;
    try {
        k = await startKvedge({
            threads: 2,
            redis: { url: dflt.url, connect_timeout: '300ms', reconnect_max_delay: '200ms' },
            stores: { central: { url: central.url, connect_timeout: '300ms', reconnect_max_delay: '200ms' } },
            admin: { ready_timeout: '500ms' },
            kv: { store: 'central', tokens: TOKENS },
        }, { waitReady: true });
        assert.deepEqual(await readyz(k), { status: 200, body: 'ready\n' });

        // the default store goes: /readyz names it, and counts the other thread's link; the API (central) serves on
        await dflt.stop();
        await waitFor(async () => (await readyz(k)).status === 503, { message: '503 with the default store down' });
        const down = await readyz(k);
        assert.match(down.body, new RegExp(`^not ready: store default, thread 0: ${NOT_READY}; 1 more link not ready\\n$`));
        await waitFor(async () => {
            const s = await samples(k, 'kvedge_kv_link_up');
            return s['store=default,thread=0'] === 0 && s['store=default,thread=1'] === 0;
        }, { message: 'the default store links down in /metrics' });
        assert.deepEqual(await samples(k, 'kvedge_kv_link_up'), links({ default: 0, central: 1 }, 2));
        for (let i = 0; i < 6; i++) {
            assert.deepEqual(await kv(k, ['SET', `k${i}`, 'x']), { status: 200, body: { result: 'OK' } }, 'the API serves from central');
        }

        // it comes back
        await dflt.restart();
        await waitFor(async () => (await readyz(k)).status === 200, { message: 'ready again' });
        await waitFor(async () => Object.values(await samples(k, 'kvedge_kv_link_up')).every((v) => v === 1), { message: 'all links up' });

        // now the central store goes: /readyz names that one, and the API fails fast
        await central.stop();
        await waitFor(async () => (await readyz(k)).status === 503, { message: '503 with the central store down' });
        assert.match((await readyz(k)).body, new RegExp(`^not ready: store central, thread 0: ${NOT_READY}; 1 more link not ready\\n$`));
        const failed = await kv(k, ['GET', 'k0']);
        assert.equal(failed.status, 503, JSON.stringify(failed.body));
        assert.match(failed.body.error, /^ERR kv store (unavailable|connection failed)$/);
        await central.restart();
        await waitFor(async () => (await readyz(k)).status === 200, { message: 'ready again after central came back' });
        await waitFor(async () => (await kv(k, ['GET', 'k0'])).status === 200, { message: 'the API serves again' });
        assert.match(k.stderr(), /\[warn\] redis: link to 127\.0\.0\.1:\d+ \(store central\) is down/);
        assert.match(k.stderr(), /\[warn\] redis: link to 127\.0\.0\.1:\d+ \(store default\) is down/);
    } finally {
        if (k) assertCleanExit(await k.stop());
        await dflt.stop();
        await central.stop();
    }
});

test('issue 7: /readyz checks that outlive their client, or are in flight at SIGTERM, end cleanly', async () => {
    const dflt = await startRedis();
    const central = await startRedis();
    let k;
    try {
        // the drain ends long before a PING times out: at SIGTERM the checks are still waiting on every thread
        k = await startKvedge({ threads: 3, redis: dflt.url, stores: { central: { url: central.url, command_timeout: '10s' } },
            admin: { ready_timeout: '800ms' }, limits: { drain_timeout: '200ms' }, kv: { store: 'central', tokens: TOKENS } },
            { waitReady: true });
        await central.kill('SIGSTOP'); // PINGs to it hang until ready_timeout
        const left = await Promise.allSettled(Array.from({ length: 12 }, () => http('GET', `${k.url}/readyz`, { timeoutMs: 150 })));
        assert.ok(left.every((r) => r.status === 'rejected'), 'the clients gave up first');
        const r = await readyz(k);
        assert.equal(r.status, 503);
        assert.match(r.body, new RegExp(`^not ready: store central, thread 0: ${NOT_READY}; 2 more links not ready\\n$`));
        await central.kill('SIGCONT');
        await waitFor(async () => (await readyz(k)).status === 200, { message: 'ready again' });
        // checks in flight (answered by no one until the timeout) when kvedge is told to stop
        k.config.admin.ready_timeout = '20s';
        assertCleanExit(await k.stop());
        k = await startKvedge(k.config, { waitReady: true });
        await central.kill('SIGSTOP');
        const inflight = Array.from({ length: 12 }, () => http('GET', `${k.url}/readyz`, { timeoutMs: 5000 }).catch((e) => e));
        await new Promise((ok) => setTimeout(ok, 100));
        const t0 = Date.now();
        const stopped = await k.stop();
        k = null;
        assertCleanExit(stopped);
        assert.ok(Date.now() - t0 < 5000, 'the stop did not wait for the checks');
        assert.doesNotMatch(stopped.stderr, /never delivered/);
        for (const x of await Promise.all(inflight)) assert.ok(x instanceof Error || x.status === 503, `answered 503 or cut: ${x.status}`);
    } finally {
        await central.kill('SIGCONT');
        if (k) assertCleanExit(await k.stop());
        await dflt.stop();
        await central.stop();
    }
});

test('issue 7: /metrics: link gauges per store and thread, counters per store', async () => {
    const dflt = await startRedis();
    const central = await startRedis();
    let k;
    try {
        k = await startKvedge({ threads: 3, redis: dflt.url, stores: { central: central.url, cache: dflt.url },
            kv: { store: 'central', tokens: TOKENS } }, { waitReady: true });
        await waitFor(async () => Object.keys(await samples(k, 'kvedge_kv_link_up')).length === 9, { message: 'nine link gauges' });
        assert.deepEqual(await samples(k, 'kvedge_kv_link_up'), links({ default: 1, central: 1, cache: 1 }, 3));
        const before = await samples(k, 'kvedge_kv_commands_total');
        assert.deepEqual(Object.keys(before), ['store=default', 'store=central', 'store=cache'], 'one counter per store, in order');
        for (let i = 0; i < 10; i++) assert.equal((await kv(k, ['SET', `m${i}`, 'v'])).status, 200);
        const after = await samples(k, 'kvedge_kv_commands_total');
        assert.ok(after['store=central'] - before['store=central'] >= 10, `central counted the writes: ${JSON.stringify([before, after])}`);
        assert.equal(after['store=default'], before['store=default'], 'the default store did not');
        assert.equal(after['store=cache'], before['store=cache'], 'nor the cache store');
        for (const name of ['error_replies_total', 'timeouts_total', 'late_replies_total', 'failures_total', 'reconnects_total', 'inflight']) {
            assert.deepEqual(Object.keys(await samples(k, `kvedge_kv_${name}`)), ['store=default', 'store=central', 'store=cache'], name);
        }
        assert.deepEqual(await samples(k, 'kvedge_kv_read_only_link_up'), {}, 'no store has a read-only user');
    } finally {
        if (k) assertCleanExit(await k.stop());
        await dflt.stop();
        await central.stop();
    }
});

test('issue 7: a read-only user on a named store: `kvedge acl` names stores.central, read-only tokens run as it', async () => {
    const central = await startRedis();
    const io = central.client();
    let k;
    try {
        const cfg = {
            threads: 2,
            listen: [{ host: '127.0.0.1', port: 8080 }],
            redis: 'embedded',
            stores: { central: { url: central.url, username: 'app-rw', password: 'rw-password-123', read_only_username: 'app-ro',
                read_only_password: 'ro-password-456' } },
            kv: { store: 'central', tokens: TOKENS },
        };
        const printed = await runKvedge(['acl', '-c', writeConfig(cfg)]);
        assert.equal(printed.code, 0, printed.stderr);
        assert.match(printed.stdout, /KV API on store "central"/);
        assert.match(printed.stdout, /set stores\.central\.username \/\n# stores\.central\.password and stores\.central\.read_only_username/);
        const lines = printed.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER'));
        assert.equal(lines.length, 2, printed.stdout);
        for (const [line, pw] of [[lines[0], 'rw-password-123'], [lines[1], 'ro-password-456']]) {
            assert.equal(await io.call('ACL', ...line.replace('><password>', `>${pw}`).split(' ').slice(1)), 'OK');
        }
        delete cfg.listen;
        k = await startKvedge(cfg, { waitReady: true });
        assert.deepEqual(await kv(k, ['SET', 'a', '1']), { status: 200, body: { result: 'OK' } });
        assert.deepEqual(await kv(k, ['GET', 'a'], RO_TOKEN), { status: 200, body: { result: '1' } });
        // a read-only script, on the read-only link
        const ro = await kv(k, ['EVAL_RO', "return redis.call('GET', 'a')", '0'], RO_TOKEN);
        assert.deepEqual(ro, { status: 200, body: { result: '1' } });
        const users = (await io.call('CLIENT', 'LIST')).split('\n').map((l) => /user=(\S+)/.exec(l)?.[1]).filter(Boolean);
        assert.equal(users.filter((u) => u === 'app-rw').length, 2, `one read-write link per thread: ${users}`);
        assert.equal(users.filter((u) => u === 'app-ro').length, 2, `one read-only link per thread: ${users}`);
        assert.doesNotMatch(k.stderr(), /can run \d+ commands the KV policy refuses/);
        assert.deepEqual(await samples(k, 'kvedge_kv_read_only_link_up'), links({ central: 1 }, 2), 'only the KV store has read-only links');
        // the store's output buffer limit is checked once, by a read-write link (the read-only user may not CONFIG GET)
        await waitFor(() => /cannot check Redis' client-output-buffer-limit/.test(k.stderr()), { message: 'the check ran' });
        await new Promise((ok) => setTimeout(ok, 500));
        const checks = k.stderr().match(/cannot check Redis' client-output-buffer-limit[^\n]*/g);
        assert.equal(checks.length, 1, checks.join('\n'));
        assert.match(checks[0], /link to 127\.0\.0\.1:\d+ as app-rw \(store central\)\)$/);
        // /readyz counts the read-only links too
        await central.stop();
        await waitFor(async () => (await readyz(k)).status === 503, { message: 'not ready' });
        assert.match((await readyz(k)).body, new RegExp(`^not ready: store central, thread 0: ${NOT_READY}; 3 more links not ready\\n$`));
    } finally {
        io.disconnect();
        if (k) assertCleanExit(await k.stop());
        await central.stop();
    }
});

test('issue 7: today\'s files: only redis:, or no store at all, serve the KV API from the store "default"', async () => {
    const redis = await startRedis();
    const io = redis.client();
    let k;
    try {
        k = await startKvedge({ threads: 2, redis: redis.url, kv: { tokens: TOKENS } }, { waitReady: true });
        assert.deepEqual(await kv(k, ['SET', 'old', 'style']), { status: 200, body: { result: 'OK' } });
        assert.equal(await io.get('old'), 'style');
        assert.deepEqual(await samples(k, 'kvedge_kv_link_up'), links({ default: 1 }, 2));
        assert.match(k.stderr(), /started \(config \S+, 1 store\)/);
        assert.doesNotMatch(k.stderr(), /\(store default\)/, 'one store: the log lines do not name it');
        assertCleanExit(await k.stop());

        k = await startKvedge({ threads: 1, kv: { tokens: TOKENS } }, { waitReady: true });
        assert.deepEqual(await kv(k, ['SET', 'implicit', 'embedded']), { status: 200, body: { result: 'OK' } });
        assert.deepEqual(await samples(k, 'kvedge_kv_link_up'), links({ default: 1 }, 1));
        assert.deepEqual(await samples(k, 'kvedge_kv_read_only_link_up'), links({ default: 1 }, 1), 'the embedded Redis has a read-only user');
        assert.match(k.stderr(), /started \(config \S+, 1 store, one of them the embedded redis-server\)/);
        const printed = await runKvedge(['acl', '-c', writeConfig({ redis: redis.url, listen: [{ port: 8080 }], kv: { tokens: TOKENS } })]);
        assert.match(printed.stdout, /KV API on store "default"/);
        assert.match(printed.stdout, /set redis\.username \/\n# redis\.password and redis\.read_only_username/);
    } finally {
        io.disconnect();
        if (k) assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 7: a store whose host does not resolve stops the start with a message naming the store', async () => {
    const file = writeConfig({ listen: [{ host: '127.0.0.1', port: await freePort() }], data_dir: path.join(makeTempDir(), 'data'),
        redis: 'embedded', stores: { central: 'redis://kvedge-no-such-host.invalid:6379' } });
    const r = await runKvedge(['-c', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /\[error\] main: store central: cannot resolve Redis host "kvedge-no-such-host\.invalid": /);
    assert.match(r.stderr, /embedded redis-server \(pid \d+\) stopped/, 'what was started is stopped');
});

const KV_SECTION = 'kv:\n  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n';
const LISTEN = 'listen:\n  - port: 8080\n';

const BAD = [
    ['an unknown store in kv.store lists the known ones', `${LISTEN}redis: embedded\nstores:\n  central: redis://127.0.0.1:7001\n` +
        'kv:\n  store: centrl\n  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n',
    'kvedge.yaml:7:10: error: kv.store: unknown store "centrl" (the stores are: default, central)\n' +
        '    7 |   store: centrl\n      |          ^\n'],
    ['kv.store left out with no store named default points at kv:', `${LISTEN}stores:\n  central: redis://127.0.0.1:7001\n${KV_SECTION}`,
        'kvedge.yaml:5:1: error: kv.store: unknown store "default" (the stores are: central); kv.store defaults to "default": ' +
        'name one of them, or call one default\n    5 | kv:\n      | ^\n'],
    ['redis: and stores.default both set', `${LISTEN}redis: embedded\nstores:\n  default: redis://127.0.0.1:7001\n`,
        'kvedge.yaml:5:3: error: stores.default: the store "default" is already given by redis: (line 3); write it in one place\n' +
        '    5 |   default: <hidden>\n      |   ^\n'],
    ['two embedded stores (redis: and a named one)', `${LISTEN}redis: embedded\nstores:\n  a: redis://127.0.0.1:7001\n  b: embedded\n`,
        'kvedge.yaml:6:3: error: stores.b: only one store can be embedded, and redis: already is (give this one a redis:// or unix:// URL)\n' +
        '    6 |   b: <hidden>\n      |   ^\n'],
    ['two embedded named stores', `${LISTEN}stores:\n  a:\n    url: embedded\n  b: embedded\n`,
        'kvedge.yaml:6:3: error: stores.b: only one store can be embedded, and stores.a already is (give this one a redis:// or unix:// URL)\n' +
        '    6 |   b: <hidden>\n      |   ^\n'],
    ['more than KVE_STORES_MAX (16) named stores',
        `${LISTEN}stores:\n${Array.from({ length: 17 }, (_, i) => `  s${i}: redis://127.0.0.1:${7000 + i}\n`).join('')}`,
        'kvedge.yaml:4:3: error: stores: too many entries: 17 (at most 16)\n    4 |   s0: <hidden>\n      |   ^\n'],
    ['16 named stores and redis: make 17',
        `${LISTEN}redis: embedded\nstores:\n${Array.from({ length: 16 }, (_, i) => `  s${i}: redis://127.0.0.1:${7000 + i}\n`).join('')}`,
        'kvedge.yaml:4:1: error: stores: 17 stores with the one redis: sets (at most 16)\n    4 | stores:\n      | ^\n'],
    ['a store name with capitals', `${LISTEN}stores:\n  Central: redis://127.0.0.1:7001\n`,
        'kvedge.yaml:4:3: error: stores: invalid name "Central": use 1 to 32 of a-z, 0-9, \'_\' and \'-\'\n' +
        '    4 |   Central: <hidden>\n      |   ^\n'],
    ['a store name of 33 bytes', `${LISTEN}stores:\n  ${'a'.repeat(33)}: redis://127.0.0.1:7001\n`,
        `kvedge.yaml:4:3: error: stores: invalid name "${'a'.repeat(33)}": use 1 to 32 of a-z, 0-9, '_' and '-'\n` +
        `    4 |   ${'a'.repeat(33)}: <hidden>\n      |   ^\n`],
    ['a store name twice', `${LISTEN}stores:\n  a: redis://127.0.0.1:7001\n  a: redis://127.0.0.1:7002\n`,
        'kvedge.yaml:5:3: error: stores: duplicate name "a" (first defined at line 4)\n    5 |   a: <hidden>\n      |   ^\n'],
    ['stores: as a scalar', `${LISTEN}stores: central\n`,
        'kvedge.yaml:3:9: error: stores: expected a mapping of names to settings\n    3 | stores: <hidden>\n      |         ^\n'],
    ['a bad URL in a named store', `${LISTEN}stores:\n  a: ftp://127.0.0.1:7001\n`,
        'kvedge.yaml:4:6: error: stores.a: url: expected "embedded", a redis://, rediss:// or unix:// URL, or an http(s):// URL of a KV REST store\n    4 |   a: <hidden>\n      |      ^\n'],
    ['an unknown key in a named store', `${LISTEN}stores:\n  a:\n    url: redis://127.0.0.1:7001\n    comand_timeout: 1s\n`,
        'kvedge.yaml:6:5: error: stores.a: unknown key "comand_timeout" (did you mean "command_timeout"?)\n' +
        '    6 |     comand_timeout: 1s\n      |     ^\n'],
    ['a read-only user on an embedded named store', `${LISTEN}stores:\n  a:\n    url: embedded\n    read_only_username: x\n`,
        'kvedge.yaml:6:25: error: stores.a: the embedded Redis gets its users from kvedge: read_only_username and read_only_password ' +
        'are for an external Redis\n    6 |     read_only_username: x\n      |                         ^\n'],
    ['a read-only user on a store the KV API does not serve',
        `${LISTEN}redis:\n  url: redis://127.0.0.1:7000\n  read_only_username: ro\nstores:\n  central: redis://127.0.0.1:7001\n` +
        'kv:\n  store: central\n  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n',
        'kvedge.yaml:5:3: error: redis.read_only_username: only the store the KV API serves (kv.store: central) has read-only ' +
        'links; set it there\n    5 |   read_only_username: ro\n      |   ^\n'],
    ['a read-only password on a named store the KV API does not serve',
        `${LISTEN}redis: redis://127.0.0.1:7000\nstores:\n  cache:\n    url: redis://127.0.0.1:7001\n    read_only_password: pw\n${KV_SECTION}`,
        'kvedge.yaml:7:5: error: stores.cache.read_only_password: only the store the KV API serves (kv.store: default) has read-only ' +
        'links; set it there\n    7 |     read_only_password: <hidden>\n      |     ^\n'],
    ['an error next to a named store\'s secrets does not show them',
        `${LISTEN}stores:\n  a: {url: "redis://u:pw@127.0.0.1:1", password: hunter2, bogus: 1}\n`,
        'kvedge.yaml:4:59: error: stores.a: unknown key "bogus"\n    4 |   a: {url: <hidden>, password: <hidden>, bogus: 1}\n' +
        '      |                                          ^\n'],
];

for (const [what, yaml, expected] of BAD) {
    test(`issue 7: config error: ${what}`, async () => {
        const r = await check(yaml);
        assert.equal(r.stderr, expected);
        assert.equal(r.code, 1);
    });
}

test('issue 7: config: valid store layouts pass `kvedge -t`', async () => {
    const good = [
        `${LISTEN}stores:\n  central: redis://127.0.0.1:7001\n`, // no default store, nothing refers to one
        `${LISTEN}stores:\n  default: embedded\n  central: redis://127.0.0.1:7001\n${KV_SECTION}`,
        `${LISTEN}stores:\n  cache: embedded\n  central: redis://127.0.0.1:7001\nkv:\n  store: cache\n  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n`,
        `${LISTEN}stores:\n${KV_SECTION}`, // empty stores: the implicit embedded default
        `${LISTEN}redis: embedded\nstores:\n${Array.from({ length: 15 }, (_, i) => `  s-${i}_x: redis://127.0.0.1:${7000 + i}\n`).join('')}`,
        `${LISTEN}redis:\n  url: redis://127.0.0.1:7000\n  read_only_username: ro\n${KV_SECTION}`,
        `${LISTEN}redis: embedded\nstores:\n  central:\n    url: redis://127.0.0.1:7001\n    read_only_username: ro\n` +
            'kv:\n  store: central\n  tokens:\n    - token: abcdefghijklmnopqrstuvwxyz\n',
    ];
    for (const yaml of good) {
        const r = await check(yaml);
        assert.equal(r.stderr, '', yaml);
        assert.equal(r.code, 0, yaml);
    }
});

test('issue 7: --help-config documents stores: and kv.store', async () => {
    const r = await runKvedge(['--help-config']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^stores \(maps by name, at most 16, names of a-z 0-9 _ - up to 32 bytes, or a scalar for url\)/m);
    assert.match(r.stdout, /^ {2,}store \(string.*default "default"/m);
});
