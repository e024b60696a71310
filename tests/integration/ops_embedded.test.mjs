// Issue 11, the embedded Redis done right: a configuration no store is needed for starts no redis-server and creates
// no data_dir; listeners and certificates come before the embedded Redis, so a port in use or a bad certificate leaves
// nothing behind; embedded_redis.maxmemory_policy and embedded_redis.options (validated, on the redis-server command line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { assertCleanExit, freePort, http, makeTempDir, runKvedge, startKvedge, startUpstream, writeConfig } from './harness.mjs';
import { RW_TOKEN } from './kv_helpers.mjs';

/** the PIDs of the direct children of `pid` (every thread's children file: the embedded Redis is forked by the main thread) */
function children(pid) {
    const out = [];
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
        const text = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
        if (text !== '') out.push(...text.split(/\s+/).map(Number));
    }
    return out;
}

function cmdline(pid) {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
    } catch {
        return null; // gone meanwhile
    }
}

/** every live process whose command line names `dir` (a redis-server started on that data_dir), by PID */
function processesNaming(dir) {
    const out = [];
    for (const e of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(e)) continue;
        const argv = cmdline(Number(e));
        if (argv !== null && argv.some((a) => a.includes(dir))) out.push({ pid: Number(e), argv });
    }
    return out;
}

const LISTEN = [{ host: '127.0.0.1', port: 8080 }];

const PROXY_ONLY = (upstream) => ({
    threads: 1,
    admin: { path: '/' },
    routes: [{ path: '/app', upstream: upstream.url }],
});

test('issue 11 embedded: a proxy-only configuration starts no redis-server, creates no data_dir, reports no store', async () => {
    const upstream = await startUpstream();
    const k = await startKvedge(PROXY_ONLY(upstream));
    try {
        const r = await http('GET', `${k.url}/app/x`);
        assert.equal(r.status, 200);
        assert.deepEqual(children(k.pid), [], 'kvedge has no child process');
        assert.equal(fs.existsSync(k.config.data_dir), false, `${k.config.data_dir} was created`);
        assert.deepEqual(processesNaming(k.config.data_dir), []);
        const ready = await http('GET', `${k.adminUrl}readyz`);
        assert.equal(ready.status, 200, ready.body);
        assert.doesNotMatch(ready.body, /store|redis/i);
        const metrics = (await http('GET', `${k.adminUrl}metrics`)).body;
        assert.doesNotMatch(metrics, /^kvedge_kv_link_up/m);
        assert.doesNotMatch(metrics, /^kvedge_embedded_redis_up/m);
        assert.doesNotMatch(metrics, /store="/);
        assert.match(k.stderr(), /started \(config .*, 0 stores\)/);
    } finally {
        assertCleanExit(await k.stop());
        await upstream.stop();
    }
});

test('issue 11 embedded: the same file with a kv section starts the embedded redis-server as its child (the control)', async () => {
    const upstream = await startUpstream();
    const k = await startKvedge({ ...PROXY_ONLY(upstream), kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] } }, { waitReady: true });
    try {
        const kids = children(k.pid);
        assert.equal(kids.length, 1, `children: ${kids}`);
        assert.match(cmdline(kids[0])[0], /redis-server/);
        assert.ok(fs.existsSync(path.join(k.config.data_dir, 'redis.sock')));
        assert.match((await http('GET', `${k.adminUrl}metrics`)).body, /^kvedge_embedded_redis_up 1$/m);
    } finally {
        assertCleanExit(await k.stop());
        await upstream.stop();
    }
    assert.equal(fs.existsSync(path.join(k.config.data_dir, 'redis.sock')), false, 'the socket is removed at exit');
});

test('issue 11 embedded: a cached route or a session route uses the store (the embedded Redis starts)', async () => {
    const upstream = await startUpstream();
    for (const route of [{ cache: { enabled: true } }, { session: { mode: 'optional', jwt_key: 'k'.repeat(40) } }]) {
        const k = await startKvedge({ threads: 1, admin: { path: '/' }, routes: [{ path: '/app', upstream: upstream.url, ...route }] });
        try {
            assert.equal(children(k.pid).length, 1, `${JSON.stringify(route)}: one child`);
            assert.ok(fs.existsSync(k.config.data_dir));
        } finally {
            assertCleanExit(await k.stop());
        }
    }
    await upstream.stop();
});

/** a config with the KV API on the embedded Redis, listening as `listen` says, its data_dir in a fresh folder */
function embeddedConfig(listen) {
    const dir = makeTempDir('kvedge-emb-');
    const dataDir = path.join(dir, 'data');
    const file = writeConfig({ threads: 1, data_dir: dataDir, listen, kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] } }, { dir });
    return { file, dataDir };
}

async function assertNothingLeft(result, dataDir, why) {
    assert.equal(result.code, 1, `exit code\n${result.stderr}`);
    assert.match(result.stderr, why);
    assert.doesNotMatch(result.stderr, /embedded redis-server \(pid \d+\) ready/, 'the embedded Redis was started');
    assert.deepEqual(processesNaming(dataDir), [], 'a process runs on the data_dir');
    assert.equal(fs.existsSync(path.join(dataDir, 'redis.sock')), false, 'socket left behind');
    assert.equal(fs.existsSync(path.join(dataDir, 'kvedge.lock')), false, 'lock left behind');
    assert.equal(fs.existsSync(dataDir), false, 'data_dir created');
}

test('issue 11 embedded: a listen port in use fails the start before the embedded Redis is spawned (exit 1, nothing left)', async () => {
    const holder = net.createServer();
    await new Promise((resolve) => holder.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    try {
        const { file, dataDir } = embeddedConfig([{ host: '127.0.0.1', port: holder.address().port }]);
        await assertNothingLeft(await runKvedge(['-c', file]), dataDir, /address already in use/i);
    } finally {
        await new Promise((resolve) => holder.close(resolve));
    }
});

test('issue 11 embedded: a TLS key that does not match its certificate fails the start before the embedded Redis (nothing left)', async () => {
    const dir = makeTempDir('kvedge-tls-');
    const make = (name) => {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, `${name}.key`), '-out',
            path.join(dir, `${name}.pem`), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    };
    make('a');
    make('b');
    const { file, dataDir } = embeddedConfig([{ host: '127.0.0.1', port: await freePort(),
        tls: { cert_file: path.join(dir, 'a.pem'), key_file: path.join(dir, 'b.key') } }]);
    await assertNothingLeft(await runKvedge(['-c', file]), dataDir, /key|certificate/i);
});

/** the embedded Redis's INFO `section` through the KV API, as {field: value} */
async function info(k, section) {
    const r = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: JSON.stringify(['INFO', section]) });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(JSON.parse(r.body).result.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':')));
}

test('issue 11 embedded: maxmemory_policy and options reach the embedded redis-server (noeviction by default)', async () => {
    const kv = { path: '/kv', tokens: [{ token: RW_TOKEN }] };
    const plain = await startKvedge({ threads: 1, kv }, { waitReady: true });
    try {
        assert.equal((await info(plain, 'memory')).maxmemory_policy, 'noeviction');
    } finally {
        assertCleanExit(await plain.stop());
    }
    const tuned = await startKvedge({
        threads: 1, kv,
        embedded_redis: { maxmemory: '64MiB', maxmemory_policy: 'allkeys-lru',
            options: { hz: 20, 'maxmemory-samples': 7, 'lazyfree-lazy-eviction': true, 'notify-keyspace-events': 'Ex' } },
    }, { waitReady: true });
    try {
        const memory = await info(tuned, 'memory');
        assert.equal(memory.maxmemory_policy, 'allkeys-lru');
        assert.equal(memory.maxmemory, String(64 << 20));
        assert.equal((await info(tuned, 'server')).configured_hz, '20');
    } finally {
        assertCleanExit(await tuned.stop());
    }
});

test('issue 11 embedded: with the default noeviction a full embedded Redis refuses writes (KV data is not dropped)', async () => {
    const k = await startKvedge({ threads: 1, kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] },
        embedded_redis: { maxmemory: '3MiB' } }, { waitReady: true });
    const set = (key, value) => http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` },
        body: JSON.stringify(['SET', key, value]) });
    try {
        const big = 'x'.repeat(256 * 1024);
        let refused = null;
        for (let i = 0; i < 64 && refused === null; i++) {
            const r = await set(`k${i}`, big);
            if (r.status !== 200) refused = r;
        }
        assert.ok(refused, 'every write was taken');
        assert.match(refused.body, /OOM|maxmemory/i);
        const first = await http('POST', `${k.url}/kv`, { headers: { authorization: `Bearer ${RW_TOKEN}` }, body: '["STRLEN","k0"]' });
        assert.equal(JSON.parse(first.body).result, big.length, 'the first key is still there');
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 11 embedded: embedded_redis options that would expose, move or take over the Redis are refused at load', async () => {
    const cases = [
        [{ options: { port: 6380 } }, /embedded_redis.options: kvedge sets port itself/],
        [{ options: { bind: '0.0.0.0' } }, /kvedge sets bind itself/],
        [{ options: { dir: '/tmp' } }, /kvedge sets dir itself; use data_dir/],
        [{ options: { unixsocket: '/tmp/x.sock' } }, /kvedge sets unixsocket itself/],
        [{ options: { maxmemory: '1gb' } }, /use embedded_redis.maxmemory/],
        [{ options: { requirepass: 'x' } }, /"requirepass" is not an option kvedge passes/],
        [{ options: { aclfile: '/tmp/acl' } }, /"aclfile" is not an option/],
        [{ options: { user: 'bob' } }, /"user" is not an option/],
        [{ options: { 'rename-command': 'CONFIG' } }, /"rename-command" is not an option/],
        [{ options: { 'enable-debug-command': 'yes' } }, /"enable-debug-command" is not an option/],
        [{ options: { loadmodule: '/tmp/m.so' } }, /"loadmodule" is not an option/],
        [{ options: { maxmemory_samples: 5 } }, /Redis writes its option names with '-'/],
        [{ options: { hz: '--requirepass' } }, /options: hz: a value cannot start with "--"/],
        [{ options: { hz: '10 --port 6380' } }, /options: hz: the value must be one word/],
        [{ options: { hz: '"10"' } }, /one word of printable ASCII without quotes/],
        [{ options: { hz: { a: 1 } } }, /options: hz: expected a scalar value/],
        [{ options: ['hz', 10] }, /options: expected a mapping/],
        [{ maxmemory_policy: 'evict-everything' }, /maxmemory_policy/],
    ];
    for (const [embedded, why] of cases) {
        const file = writeConfig({ listen: LISTEN, kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] }, embedded_redis: embedded });
        const r = await runKvedge(['-t', '-c', file]);
        assert.equal(r.code, 1, `${JSON.stringify(embedded)}: accepted\n${r.stdout}`);
        assert.match(r.stderr, why, JSON.stringify(embedded));
        assert.match(r.stderr, /kvedge\.yaml:\d+:\d+: error: /, 'a compiler-style error');
    }
    const ok = writeConfig({ listen: LISTEN, kv: { path: '/kv', tokens: [{ token: RW_TOKEN }] },
        embedded_redis: { maxmemory_policy: 'volatile-ttl', options: { 'slowlog-max-len': 256, activedefrag: 'no' } } });
    const r = await runKvedge(['-t', '-c', ok]);
    assert.equal(r.code, 0, r.stderr);
});
