// Issue 6, item 4 (second half): one script cannot hold Redis. A request that runs a script (EVAL*, FCALL*)
// times out after kv.script_timeout; the link then stops the script with SCRIPT KILL or FUNCTION KILL on a
// connection of its own, so Redis serves everyone again instead of answering BUSY until someone intervenes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, SANITIZE, startKvedge, startRedis, stopKvedgeThen, waitFor } from './harness.mjs';
import { RO_TOKEN, RW_TOKEN, kvConfig } from './kv_helpers.mjs';

const SLOW = SANITIZE ? 3 : 1;

async function kv(base, command, token = RW_TOKEN, timeoutMs = 20_000) {
    const r = await http('POST', base, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(command), timeoutMs });
    return { status: r.status, body: JSON.parse(r.body) };
}

/** runs `command` (which never ends by itself) and checks: 504 about script_timeout, the store serves again soon */
async function expectStopped(k, command, token, stopped) {
    const base = `${k.url}/kv`;
    const t0 = Date.now();
    const r = await kv(base, command, token);
    const ms = Date.now() - t0;
    assert.equal(r.status, 504, JSON.stringify(r.body));
    assert.ok(ms >= 400 && ms < 3000 * SLOW, `504 after ${ms} ms (script_timeout 500 ms)`);
    // the script is gone: an ordinary command on another request answers at once again
    await waitFor(async () => (await kv(base, ['SET', 'after', String(t0)])).status === 200, {
        timeoutMs: 5000 * SLOW,
        message: 'the store serves again',
    });
    await waitFor(() => stopped.test(k.stderr()), { message: `log line ${stopped}` });
}

test('issue 6.4: a read-only token looping in EVAL_RO or FCALL_RO: the script is killed, Redis serves again (embedded)', async () => {
    const k = await startKvedge(kvConfig('embedded', { script_timeout: '500ms' }, { threads: 1 }));
    try {
        const base = `${k.url}/kv`;
        await expectStopped(k, ['EVAL_RO', 'while true do end', '0'], RO_TOKEN, /stopped a script that ran past its timeout \(SCRIPT KILL\)/);
        const lib = "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}";
        assert.deepEqual(await kv(base, ['FUNCTION', 'LOAD', lib]), { status: 200, body: { result: 'spin' } });
        await expectStopped(k, ['FCALL_RO', 'spin', '0'], RO_TOKEN, /stopped a script that ran past its timeout \(FUNCTION KILL\)/);
        // a script that ends in time is untouched
        assert.deepEqual(await kv(base, ['EVAL', "local n = 0 for i = 1, 100000 do n = n + i end return n", '0']), {
            status: 200,
            body: { result: 5000050000 },
        });
        const metrics = (await http('GET', `${k.url}/metrics`)).body;
        assert.match(metrics, /kvedge_kv_link_up\{store="default",thread="0"\} 1/);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 6.4: an external Redis (busy-reply-threshold as script_timeout): a read-write script loop is killed', async () => {
    const redis = await startRedis({ args: ['--busy-reply-threshold', '400'] });
    const k = await startKvedge(kvConfig(redis.url, { script_timeout: '500ms' }, { threads: 1 }));
    try {
        await expectStopped(k, ['EVAL', 'while true do end', '0'], RW_TOKEN, /stopped a script that ran past its timeout \(SCRIPT KILL\)/);
    } finally {
        await stopKvedgeThen(k, redis);
    }
});

test('issue 6.4: a script that wrote cannot be killed: a clear error line, kvedge stays up and stops cleanly', async () => {
    const redis = await startRedis({ args: ['--busy-reply-threshold', '300'] });
    const k = await startKvedge(kvConfig(redis.url, { script_timeout: '500ms' }, { threads: 1 }));
    try {
        const r = await kv(`${k.url}/kv`, ['EVAL', "redis.call('SET', 'w', '1') while true do end", '0']);
        assert.equal(r.status, 504);
        await waitFor(() => /a script that ran past its timeout has written and cannot be killed/.test(k.stderr()), {
            message: 'UNKILLABLE logged',
        });
        assert.equal((await http('GET', `${k.url}/healthz`)).status, 200);
        await redis.kill('SIGKILL'); // only SHUTDOWN NOSAVE (or this) ends it
    } finally {
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});
