// Failure paths of the KV REST API (../../../shared/docs/kv-rest-protocol.md): the sync-token counter
// failing after the user's commands replied, clients that go away while a /pipeline or /multi-exec waits
// for a paused Redis (HTTP/1 and HTTP/2), and Redis killed while a long pipeline is in flight. Each test
// starts its own Redis and kvedge (the failures are destructive); Redis is checked directly with ioredis.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { http, SANITIZE, sleep, startKvedge, startRedis, stopKvedgeAndRedis, waitFor } from './harness.mjs';
import { kvConfig, RW_TOKEN, SYNC_KEY } from './kv_helpers.mjs';

/** time bounds are stretched in sanitizer builds */
const SLOW = SANITIZE ? 3 : 1;
const UNKNOWN = "ERR unknown command 'NOSUCHCMD', with args beginning with: ";

/** A private Redis and a kvedge (one thread, so every request shares one Redis link) with `redisConf` and `extra`. */
async function startStack(redisConf = {}, extra = {}) {
    const redis = await startRedis();
    let k;
    try {
        k = await startKvedge({ ...kvConfig(redis.url, {}, extra), threads: 1, redis: { url: redis.url, ...redisConf } });
    } catch (e) {
        await redis.stop();
        throw e;
    }
    return { redis, k, io: redis.client(), base: `${k.url}/kv` };
}

function post(base, path, body, headers = {}) {
    return http('POST', `${base}${path}`, {
        headers: { authorization: `Bearer ${RW_TOKEN}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        timeoutMs: 20_000,
    });
}

function parse(r) {
    assert.equal(r.headers['content-type'], 'application/json', `content type of ${r.status} ${r.body.slice(0, 200)}`);
    return JSON.parse(r.body);
}

function expectJson(r, status, body, what = '') {
    assert.equal(r.status, status, `${what} status (body ${r.body.slice(0, 300)})`);
    assert.deepEqual(parse(r), body, what);
}

function syncOf(r) {
    const v = r.headers['upstash-sync-token'];
    assert.match(v ?? '', /^\d+$/, `upstash-sync-token on ${r.status}`);
    return BigInt(v);
}

// =============================================================================================
// the sync-token counter (INCR kv.sync_key after a request that may write)

test('sync counter: an error reply, a timeout or a lost connection on its INCR keeps the result and the last token', async () => {
    const { redis, k, io, base } = await startStack({ command_timeout: '300ms', breaker_threshold: 100 });
    try {
        const s1 = syncOf(await post(base, '', ['SET', 'sc:k', '1']));
        assert.ok(s1 > 0n);
        // an unknown command may write (a module's), so the INCR follows it; Redis answers the command at once
        // and, under CLIENT PAUSE WRITE, holds the INCR
        await io.client('PAUSE', 5000, 'WRITE');
        let t0 = Date.now();
        let r = await post(base, '', ['NOSUCHCMD']);
        expectJson(r, 400, { error: UNKNOWN }, 'INCR timed out');
        assert.equal(syncOf(r), s1, 'the last token known');
        assert.ok(Date.now() - t0 < 2000 * SLOW, `answered after ${Date.now() - t0} ms`);
        await io.client('UNPAUSE');
        await waitFor(async () => (await post(base, '', ['PING'])).status === 200, { message: 'PING after UNPAUSE' });

        // the same inside a pipeline, with the link lost while the INCR is held
        await io.client('PAUSE', 5000, 'WRITE');
        t0 = Date.now();
        const pending = post(base, '/pipeline', [['ECHO', 'x'], ['NOSUCHCMD']]);
        await waitFor(async () => (await io.client('LIST')).split('\n').some((l) => / cmd=incr /.test(l)), {
            intervalMs: 10,
            message: 'INCR held by the pause',
        });
        await io.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        r = await pending;
        expectJson(r, 200, [{ result: 'x' }, { error: UNKNOWN }], 'INCR lost with the connection');
        assert.ok(syncOf(r) >= s1, 'a token that does not go backwards');
        await io.client('UNPAUSE');
        await waitFor(async () => (await post(base, '', ['PING'])).status === 200, { message: 'link back' });

        // an error reply from INCR was already tolerated the same way
        const saved = await io.get(SYNC_KEY);
        await io.set(SYNC_KEY, 'not a number');
        r = await post(base, '', ['NOSUCHCMD']);
        expectJson(r, 400, { error: UNKNOWN }, 'INCR error reply');
        assert.ok(syncOf(r) >= s1);
        r = await post(base, '/pipeline', [['SET', 'sc:k', '2'], ['GET', 'sc:k']]);
        expectJson(r, 200, [{ result: 'OK' }, { result: '2' }], 'writes while the counter is broken');
        await io.set(SYNC_KEY, saved);
        const s2 = syncOf(await post(base, '', ['SET', 'sc:k', '3']));
        assert.ok(s2 > s1, `tokens advance again: ${s2} > ${s1}`);
        assert.equal(await io.get('sc:k'), '3');
    } finally {
        await io.client('UNPAUSE').catch(() => {});
        await stopKvedgeAndRedis(k, redis);
    }
});
