// TLS to Redis (issue 12, rediss://): a redis-server with --tls-port and a CA and certificates made here with the
// openssl CLI (server: DNS localhost, IP 127.0.0.1). The KV REST API works over the TLS link (SDK get/set/pipeline,
// /multi-exec, a value of a few MB, SSE subscribe on a stream connection of its own); a wrong name, an untrusted CA
// and a missing client certificate (tls-auth-clients yes) are refused with 503 and a log line naming the reason,
// never by falling back to plaintext; a Redis restart is followed by a reconnect; `kvedge -t` loads the files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from '@upstash/redis';

import { assertCleanExit, freePort, http, runKvedge, SANITIZE, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { kvConfig, openStream, RW_TOKEN } from './kv_helpers.mjs';
import { makeCerts } from './httpclient_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;
const auth = { authorization: `Bearer ${RW_TOKEN}` };
const cmd = (k, body, timeoutMs = 10_000) =>
    http('POST', `${k.url}/kv/`, { headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs });

let certs, serverLeaf, client;
before(() => {
    certs = makeCerts();
    serverLeaf = certs.leaf({ dns: ['localhost'], ip: ['127.0.0.1'] });
    client = certs.leaf({ dns: ['kvedge-client'] });
});

/** A redis-server with a plain port (the harness' ping, the test's own ioredis) and a TLS port. */
async function startTlsRedis({ leaf = serverLeaf, authClients = false, args = [] } = {}) {
    const tlsPort = await freePort();
    const redis = await startRedis({
        args: ['--tls-port', String(tlsPort), '--tls-cert-file', leaf.cert, '--tls-key-file', leaf.key,
            '--tls-ca-cert-file', certs.ca.cert, '--tls-auth-clients', authClients ? 'yes' : 'no', ...args],
    });
    return { redis, tlsPort };
}

/** kvedge with its KV store on `url` (rediss://) and the TLS options `tls` */
function startTlsEdge(url, tls = {}) {
    return startKvedge(kvConfig({ url, ca_file: certs.ca.cert, connect_timeout: '2s', ...tls }));
}

/** commands kvedge ran on the Redis (INFO commandstats, after CONFIG RESETSTAT) */
async function commandsSeen(io) {
    const info = await io.info('commandstats');
    return [...info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)].map((m) => m[1]).filter((c) => c !== 'info' && c !== 'config|resetstat');
}

test('issue 12 scale-out: rediss:// verified against a CA made in the test: SDK, pipeline, multi-exec, big value, SSE', async () => {
    const { redis, tlsPort } = await startTlsRedis();
    const k = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`); // the IP entry of the certificate is checked
    const io = redis.client();
    try {
        const sdk = new Redis({ url: `${k.url}/kv`, token: RW_TOKEN, retry: false, enableAutoPipelining: false });
        assert.equal(await sdk.set('tls:a', 'over tls'), 'OK');
        assert.equal(await sdk.get('tls:a'), 'over tls');
        assert.equal(await io.get('tls:a'), 'over tls', 'the write reached Redis');
        const p = sdk.pipeline();
        p.incr('tls:n');
        p.incr('tls:n');
        p.get('tls:a');
        assert.deepEqual(await p.exec(), [1, 2, 'over tls']);
        const tx = sdk.multi();
        tx.set('tls:t', 'x');
        tx.append('tls:t', 'y');
        tx.get('tls:t');
        assert.deepEqual(await tx.exec(), ['OK', 2, 'xy']);

        // a value of a few MB each way (many TLS records; the reply limit is the default 10 MB... or larger)
        const big = crypto.randomBytes(3 * 1024 * 1024).toString('base64'); // 4 MiB of text
        const set = await cmd(k, ['SET', 'tls:big', big], 30_000);
        assert.equal(set.status, 200, set.body.slice(0, 300));
        const got = await cmd(k, ['GET', 'tls:big'], 30_000);
        assert.equal(got.status, 200, got.body.slice(0, 300));
        assert.equal(JSON.parse(got.body).result, big);
        assert.equal(await io.strlen('tls:big'), big.length);

        // SSE subscribe: a stream connection of its own, over TLS as well
        const s = await openStream(`${k.url}/kv/subscribe/tlschan`, { timeoutMs: 30_000, waitMs: 5000 * SLOW });
        try {
            assert.equal(s.status, 200);
            await s.waitData('subscribe,tlschan,1');
            const pub = await cmd(k, ['PUBLISH', 'tlschan', 'hello over tls']);
            assert.equal(JSON.parse(pub.body).result, 1);
            await s.waitData('message,tlschan,hello over tls');
        } finally {
            s.close();
        }
        const clients = await io.client('LIST');
        assert.match(clients, new RegExp(`laddr=127\\.0\\.0\\.1:${tlsPort} `), 'kvedge is connected to the TLS port');
        assert.doesNotMatch(k.stderr(), /down|failed/i);
    } finally {
        io.disconnect();
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 12 scale-out: rediss:// with tls_server_name verifies the DNS name; the link reconnects after a Redis restart', async () => {
    const { redis, tlsPort } = await startTlsRedis();
    const k = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}/2`, { tls_server_name: 'localhost' });
    let io = redis.client({ db: 2 });
    try {
        assert.equal((await cmd(k, ['SET', 'tls:r', 'before'])).status, 200);
        assert.equal(await io.get('tls:r'), 'before', 'SELECT 2 went over the TLS link');
        io.disconnect();
        await redis.restart();
        io = redis.client({ db: 2 });
        // every thread's link is back (/readyz PINGs them all), then the data goes through
        await waitFor(async () => (await http('GET', `${k.adminUrl}readyz`, { timeoutMs: 3000 })).status === 200, {
            timeoutMs: 15_000 * SLOW, message: 'the TLS links are back after the restart',
        });
        assert.equal((await cmd(k, ['SET', 'tls:r', 'after'])).status, 200);
        assert.equal(JSON.parse((await cmd(k, ['GET', 'tls:r'])).body).result, 'after');
        assert.equal(await io.get('tls:r'), 'after');
        assert.match(k.stderr(), /link to 127\.0\.0\.1:\d+ is down: .*reconnecting/);
    } finally {
        io.disconnect();
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

for (const [what, setup, reason] of [
    ['a certificate for another name', async () => ({ ...(await startTlsRedis()), tls: { tls_server_name: 'wrong.test' } }),
        /hostname mismatch/],
    ['a certificate from a CA kvedge does not trust', async () => ({
        ...(await startTlsRedis({ leaf: certs.leaf({ dns: ['localhost'], ip: ['127.0.0.1'], signer: certs.otherCa }) })), tls: {},
    }), /unable to get local issuer certificate|self.signed|certificate verify failed/],
    ['no client certificate for a Redis that demands one (tls-auth-clients yes)',
        async () => ({ ...(await startTlsRedis({ authClients: true })), tls: {} }),
        /alert certificate required|ended after the handshake \(a client certificate required\?\)/],
]) {
    test(`issue 12 scale-out: rediss:// with ${what} is refused: 503, a clear log line, no plaintext`, async () => {
        const { redis, tlsPort, tls } = await setup();
        const io = redis.client();
        await io.config('RESETSTAT');
        const k = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`, tls);
        try {
            const r = await cmd(k, ['SET', 'tls:refused', 'x']);
            assert.equal(r.status, 503, r.body);
            assert.equal((await http('GET', `${k.adminUrl}readyz`)).status, 503);
            await waitFor(() => /redis: link to 127\.0\.0\.1:\d+ is down: TLS /.test(k.stderr()), { message: 'the log line' });
            const line = k.stderr().split('\n').find((l) => /is down: TLS /.test(l));
            assert.match(line, reason, line);
            // a second request after a few reconnect attempts: still refused, kvedge still up
            await new Promise((ok) => setTimeout(ok, 300));
            assert.equal((await cmd(k, ['GET', 'tls:refused'])).status, 503);
            assert.deepEqual(await commandsSeen(io), [], 'no command reached Redis (no plaintext fallback)');
            assert.equal(await io.exists('tls:refused'), 0);
        } finally {
            io.disconnect();
            assertCleanExit(await k.stop());
            await redis.stop();
        }
    });
}

test('issue 12 scale-out: Redis killed under a TLS stream and a pipelined load: the stream ends, requests fail cleanly, all recovers', async () => {
    const { redis, tlsPort } = await startTlsRedis();
    const k = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`);
    try {
        const s = await openStream(`${k.url}/kv/subscribe/killed`, { timeoutMs: 30_000, waitMs: 5000 * SLOW });
        await s.waitData('subscribe,killed,1');
        const load = Promise.all(Array.from({ length: 20 }, (_, i) =>
            http('POST', `${k.url}/kv/pipeline`, { headers: auth, body: JSON.stringify([['SET', `p${i}`, 'x'.repeat(10000)], ['GET', `p${i}`]]), timeoutMs: 10_000 })));
        await redis.kill('SIGKILL');
        for (const r of await load) assert.ok([200, 503].includes(r.status), `${r.status} ${r.body.slice(0, 200)}`);
        await s.ended; // the stream is released
        await redis.restart();
        await waitFor(async () => (await http('GET', `${k.adminUrl}readyz`, { timeoutMs: 3000 })).status === 200, {
            timeoutMs: 15_000 * SLOW, message: 'the TLS links are back',
        });
        const again = await openStream(`${k.url}/kv/subscribe/killed`, { timeoutMs: 30_000, waitMs: 5000 * SLOW });
        try {
            await again.waitData('subscribe,killed,1');
            assert.equal(JSON.parse((await cmd(k, ['PUBLISH', 'killed', 'back'])).body).result, 1);
            await again.waitData('message,killed,back');
        } finally {
            again.close();
        }
    } finally {
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 12 scale-out: a TLS 1.2 Redis: the IP entry is verified by OpenSSL (h2o\'s own 1.2 check knows no IP), a wrong name refused', async () => {
    const { redis, tlsPort } = await startTlsRedis({ args: ['--tls-protocols', 'TLSv1.2'] });
    const good = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`);
    const bad = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`, { tls_server_name: 'wrong.test' });
    try {
        assert.equal((await cmd(good, ['SET', 'tls:12', 'v'])).status, 200);
        assert.equal(JSON.parse((await cmd(good, ['GET', 'tls:12'])).body).result, 'v');
        assert.equal((await cmd(bad, ['GET', 'tls:12'])).status, 503);
        await waitFor(() => /is down: TLS handshake with wrong\.test failed: .*mismatch/.test(bad.stderr()), { message: 'the log line' });
    } finally {
        assertCleanExit(await good.stop());
        assertCleanExit(await bad.stop());
        await redis.stop();
    }
});

test('issue 12 scale-out: mutual TLS: with tls_cert_file and tls_key_file the store accepts kvedge', async () => {
    const { redis, tlsPort } = await startTlsRedis({ authClients: true });
    const k = await startTlsEdge(`rediss://127.0.0.1:${tlsPort}`, { tls_cert_file: client.cert, tls_key_file: client.key });
    const io = redis.client();
    try {
        assert.equal((await cmd(k, ['SET', 'tls:m', 'mutual'])).status, 200);
        assert.equal(await io.get('tls:m'), 'mutual');
        const s = await openStream(`${k.url}/kv/subscribe/mtls`, { timeoutMs: 30_000, waitMs: 5000 * SLOW });
        try {
            await s.waitData('subscribe,mtls,1');
        } finally {
            s.close();
        }
    } finally {
        io.disconnect();
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

const TOO_BIG = { error: 'ERR max response size exceeded' };
const peakRss = (pid) => Number(/^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

test('issue 12 scale-out: over TLS, AUTH, reply limits (a value dropped as it arrives, the link in step) and the script watchdog', async () => {
    const { redis, tlsPort } = await startTlsRedis({ args: ['--busy-reply-threshold', '400'] });
    const io = redis.client();
    await io.config('SET', 'requirepass', 's3cret'); // after the harness' PING; this connection stays authenticated
    const k = await startKvedge({
        // (command_timeout: 32 MiB to read and drop on a shared machine, in the sanitizer build too)
        ...kvConfig({ url: `rediss://:s3cret@127.0.0.1:${tlsPort}`, ca_file: certs.ca.cert, command_timeout: '10s' },
            { max_reply_size: '1MiB', script_timeout: '500ms' }),
        threads: 1,
    }, {
        // ASan keeps freed blocks in a quarantine (256 MiB by default): the RSS bound is about live memory
        env: SANITIZE
            ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? 'detect_leaks=1:abort_on_error=1:halt_on_error=1:fast_unwind_on_malloc=0'}:quarantine_size_mb=4` }
            : {},
    });
    const body = (r) => JSON.parse(r.body);
    try {
        await io.set('huge', 'h'.repeat(32 * 1024 * 1024));
        await io.set('small', 's');
        assert.deepEqual(body(await cmd(k, ['GET', 'small'])), { result: 's' });
        const before = peakRss(k.pid);
        for (let i = 0; i < 3; i++) {
            const r = await cmd(k, ['GET', 'huge'], 30_000);
            assert.equal(r.status, 400, r.body.slice(0, 200));
            assert.deepEqual(body(r), TOO_BIG);
        }
        const pipe = await http('POST', `${k.url}/kv/pipeline`, {
            headers: auth, body: JSON.stringify([['GET', 'huge'], ['GET', 'small'], ['GET', 'huge'], ['SET', 'after', '1'], ['GET', 'after']]),
            timeoutMs: 30_000,
        });
        assert.deepEqual(body(pipe), [TOO_BIG, { result: 's' }, TOO_BIG, { result: 'OK' }, { result: '1' }]);
        const grew = peakRss(k.pid) - before;
        // (the receive buffer cap of TLS links makes this hold: without it, 14-28 MiB were measured)
        assert.ok(grew < 16 * 1024 * 1024, `peak RSS grew by ${(grew / 1048576).toFixed(1)} MiB for a 32 MiB value`);
        const metrics = (await http('GET', `${k.adminUrl}metrics`)).body;
        assert.match(metrics, /^kvedge_kv_reconnects_total(\{store="default"\})? 0$/m, 'the TLS link was never rebuilt');

        // a script looping past script_timeout: the watchdog's own connection (TLS too) stops it with SCRIPT KILL
        const t0 = Date.now();
        const r = await cmd(k, ['EVAL', 'while true do end', '0'], 10_000);
        assert.equal(r.status, 504, r.body);
        await waitFor(async () => (await cmd(k, ['SET', 'after', String(t0)], 2000)).status === 200, {
            timeoutMs: 5000 * SLOW, message: 'the store serves again',
        });
        await waitFor(() => /stopped a script that ran past its timeout \(SCRIPT KILL\)/.test(k.stderr()), { message: 'SCRIPT KILL logged' });
    } finally {
        io.disconnect();
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 12 scale-out: kvedge -t loads the TLS files of a rediss:// store and refuses TLS options elsewhere', async () => {
    const config = (redis) => ({ ...kvConfig(redis), listen: [{ host: '127.0.0.1', port: 8080 }] });
    const check = async (redis) => runKvedge(['-t', '-c', writeConfig(config(redis), { name: `c${crypto.randomUUID()}.yaml` })]);
    const url = 'rediss://127.0.0.1:6390';
    const ok = await check({ url, ca_file: certs.ca.cert, tls_cert_file: client.cert, tls_key_file: client.key });
    assert.equal(ok.code, 0, ok.stderr);
    const missing = path.join(certs.dir, 'missing.crt');
    const cases = [
        [{ url, ca_file: missing }, /ca_file.*(does not exist|cannot|No such)|cannot load CA certificates/],
        [{ url, ca_file: certs.ca.cert, tls_cert_file: client.cert }, /both tls_cert_file and tls_key_file/],
        [{ url, ca_file: certs.ca.cert, tls_cert_file: client.cert, tls_key_file: serverLeaf.key }, /does not match the certificate/],
        [{ url, ca_file: certs.ca.cert, tls_cert_file: certs.ca.key, tls_key_file: client.key }, /cannot load the client certificate/],
        [{ url: 'redis://127.0.0.1:6379', ca_file: certs.ca.cert }, /ca_file: only a store reached over TLS/],
        [{ url: 'redis://127.0.0.1:6379', tls_server_name: 'x' }, /tls_server_name: only a store reached over TLS/],
        [{ url: 'rediss://', ca_file: certs.ca.cert }, /expected host\[:port\]/],
    ];
    for (const [redis, re] of cases) {
        const r = await check(redis);
        assert.notEqual(r.code, 0, JSON.stringify(redis));
        assert.match(r.stderr + r.stdout, re, JSON.stringify(redis));
    }
});
