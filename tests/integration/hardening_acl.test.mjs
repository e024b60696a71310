// Issue 6, item 4: scripts cannot bypass the KV policy. kvedge's links authenticate as Redis ACL users whose
// rights mirror the policy for the token's class (the embedded Redis gets them from kvedge; `kvedge acl` prints
// them for an external Redis), so redis.call() inside EVAL / EVAL_RO / FCALL is refused by Redis itself. A link
// whose user can run more logs a warning at connect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, http, runKvedge, startKvedge, startRedis, waitFor, writeConfig } from './harness.mjs';
import { RO_TOKEN, RW_TOKEN, kvConfig } from './kv_helpers.mjs';

const NOPERM = /can't run this command or subcommand/;
const LISTEN = { listen: [{ host: '127.0.0.1', port: 8080 }] }; // for `kvedge -t` / `kvedge acl` (nothing is bound)

async function kv(base, command, token = RW_TOKEN) {
    const r = await http('POST', base, { headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(command) });
    return { status: r.status, body: JSON.parse(r.body) };
}

/** what scripts must not do, for either class: [class, command, description]. (Commands flagged NOSCRIPT, such as
 * CONFIG, ACL, DEBUG and SHUTDOWN, cannot run in scripts whatever the user's rights.) */
const BYPASSES = [
    [RW_TOKEN, ['EVAL', "return redis.call('FLUSHALL')", '0'], 'FLUSHALL (allow_flush: false)'],
    [RW_TOKEN, ['EVAL', "return redis.call('FLUSHDB')", '0'], 'FLUSHDB'],
    [RW_TOKEN, ['EVAL', "return redis.call('KEYS', '*')", '0'], 'KEYS'],
    [RW_TOKEN, ['EVAL', "redis.call('SELECT', 1) return redis.call('SET', 'x', 'in db 1')", '0'], 'SELECT + SET'],
    [RW_TOKEN, ['EVAL', "return redis.call('SWAPDB', 0, 1)", '0'], 'SWAPDB'],
    [RW_TOKEN, ['EVAL', "return redis.call('PFDEBUG', 'GETREG', 'hll')", '0'], 'PFDEBUG (admin)'],
    [RW_TOKEN, ['EVAL', "return redis.call('MOVE', 'keep', 1)", '0'], 'MOVE (not in kv.allow_commands)'],
    [RW_TOKEN, ['EVAL', "return redis.call('MIGRATE', '127.0.0.1', '1', 'keep', 0, 100)", '0'], 'MIGRATE'],
    [RO_TOKEN, ['EVAL_RO', "return redis.call('KEYS', '*')", '0'], 'KEYS (read-only)'],
    [RO_TOKEN, ['EVAL_RO', "return redis.call('SCAN', '0')", '0'], 'SCAN (read-only)'],
    [RO_TOKEN, ['EVAL_RO', "redis.call('SELECT', 1) return redis.call('GET', 'x')", '0'], 'SELECT (read-only)'],
    [RO_TOKEN, ['EVAL_RO', "return redis.call('PFSELFTEST')", '0'], 'PFSELFTEST (read-only)'],
];

/** a function (FUNCTION LOAD is a write the read-write token may do) runs with the caller's rights too */
async function checkFunctions(base) {
    const lib = "#!lua name=hostile\nredis.register_function('wipe', function() return redis.call('FLUSHALL') end)\n" +
        "redis.register_function{function_name='listkeys', callback=function() return redis.call('KEYS', '*') end, flags={'no-writes'}}";
    assert.deepEqual(await kv(base, ['FUNCTION', 'LOAD', 'REPLACE', lib]), { status: 200, body: { result: 'hostile' } });
    for (const [token, command] of [[RW_TOKEN, ['FCALL', 'wipe', '0']], [RW_TOKEN, ['FCALL', 'listkeys', '0']], [RO_TOKEN, ['FCALL_RO', 'listkeys', '0']]]) {
        const r = await kv(base, command, token);
        assert.equal(r.status, 400, `${command}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, NOPERM, command.join(' '));
    }
}

async function checkNoBypass(base, io) {
    await io.set('keep', 'me');
    await io.select(1);
    await io.set('other-db', 'secret');
    await io.select(0);
    for (const [token, command, what] of BYPASSES) {
        const r = await kv(base, command, token);
        assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.error, NOPERM, what);
    }
    await checkFunctions(base);
    assert.equal(await io.get('keep'), 'me', 'nothing was flushed');
    assert.equal(await io.get('x'), null);
    // what the policy allows still works inside scripts, for both classes
    assert.deepEqual(await kv(base, ['EVAL', "return redis.call('SET', 's', 'v')", '0']), { status: 200, body: { result: 'OK' } });
    assert.deepEqual(await kv(base, ['EVAL_RO', "return redis.call('GET', 's')", '0'], RO_TOKEN), { status: 200, body: { result: 'v' } });
    assert.deepEqual(await kv(base, ['EVAL', "return redis.call('SCAN', '0', 'MATCH', 'nothing*')", '0']), {
        status: 200,
        body: { result: ['0', []] },
    });
}

test('issue 6.4: embedded Redis: scripts of either class cannot run what the policy refuses', async () => {
    const k = await startKvedge(kvConfig('embedded', {}, { log: { level: 'debug' } }));
    try {
        const base = `${k.url}/kv`;
        for (const [token, command, what] of BYPASSES) {
            const r = await kv(base, command, token);
            assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
            assert.match(r.body.error, NOPERM, what);
        }
        assert.deepEqual(await kv(base, ['SET', 'a', '1']), { status: 200, body: { result: 'OK' } });
        await checkFunctions(base);
        assert.deepEqual(await kv(base, ['EVAL', "return redis.call('FLUSHALL')", '0']).then((r) => r.status), 400);
        assert.deepEqual(await kv(base, ['GET', 'a'], RO_TOKEN), { status: 200, body: { result: '1' } });
        // the read-only token's commands run as the read-only user: a write inside its script is refused by the ACL
        // (EVAL_RO refuses writes anyway; EVAL itself is not allowed to the read-only token)
        assert.match((await kv(base, ['EVAL', 'return 1', '0'], RO_TOKEN)).body.error, /^NOPERM/);
        // the users' own check at connect found nothing to warn about
        await waitFor(() => /ACL checked, nothing refused is allowed/.test(k.stderr()), { message: 'ACL check line' });
        assert.doesNotMatch(k.stderr(), /can run \d+ commands the KV policy refuses/);
        assert.doesNotMatch(k.stderr(), /[0-9a-f]{64}/, 'no password in the log');
        const ready = await http('GET', `${k.url}/readyz`);
        assert.equal(ready.status, 200, ready.body);
        const metrics = (await http('GET', `${k.url}/metrics`)).body;
        assert.match(metrics, /kvedge_kv_read_only_link_up\{store="default",thread="0"\} 1/);
        assert.match(metrics, /kvedge_kv_link_up\{store="default",thread="1"\} 1/);
    } finally {
        assertCleanExit(await k.stop());
    }
});

test('issue 6.4: external Redis with the default user: the check at connect warns, once per class', async () => {
    const redis = await startRedis();
    const k = await startKvedge(kvConfig(redis.url));
    try {
        const line = await waitFor(() => /\[warn\] redis: redis user default \(read-write tokens\) can run (\d+) commands the KV policy refuses \(([^)]*)\)/.exec(k.stderr()), {
            message: 'warning about the default user',
        });
        assert.ok(Number(line[1]) > 20, line[0]);
        assert.ok(line[2].split(', ').length >= 10, line[2]);
        // one line for the read-write class, though two threads connected
        assert.equal(k.stderr().match(/can run \d+ commands the KV policy refuses/g).length, 1);
    } finally {
        assertCleanExit(await k.stop());
        await redis.stop();
    }
});

test('issue 6.4: external Redis with the users `kvedge acl` prints: no warning, scripts refused, read-only tokens use their user', async () => {
    const redis = await startRedis();
    const io = redis.client();
    try {
        const cfg = kvConfig(redis.url);
        cfg.redis = { url: redis.url, username: 'app-rw', password: 'rw-password-123', read_only_username: 'app-ro', read_only_password: 'ro-password-456' };
        const printed = await runKvedge(['acl', '-c', writeConfig({ ...cfg, ...LISTEN })]);
        assert.equal(printed.code, 0, printed.stderr);
        const lines = printed.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER'));
        assert.equal(lines.length, 2, printed.stdout);
        assert.match(lines[0], /^ACL SETUSER app-rw reset on ><password> /);
        assert.match(lines[1], /^ACL SETUSER app-ro reset on ><password> .* -@all /);
        assert.match(lines[0], / -flushall /);
        assert.doesNotMatch(lines[0], / \+select /, 'database 0: no SELECT');
        // the operator runs them with passwords of their own
        for (const [line, pw] of [[lines[0], 'rw-password-123'], [lines[1], 'ro-password-456']]) {
            const args = line.replace('><password>', `>${pw}`).split(' ').slice(1);
            assert.equal(await io.call('ACL', ...args), 'OK');
        }
        const k = await startKvedge(cfg);
        try {
            const base = `${k.url}/kv`;
            assert.equal((await http('GET', `${k.url}/readyz`)).status, 200);
            await checkNoBypass(base, io);
            const clients = await io.call('CLIENT', 'LIST');
            assert.match(clients, /user=app-rw/);
            assert.match(clients, /user=app-ro/);
            assert.doesNotMatch(k.stderr(), /can run \d+ commands the KV policy refuses/);
        } finally {
            assertCleanExit(await k.stop());
        }
    } finally {
        io.disconnect();
        await redis.stop();
    }
});

test('issue 6.4: `kvedge acl`: SELECT for a database other than 0, allow_commands and deny_commands followed', async () => {
    const cfg = kvConfig('redis://127.0.0.1:6390/3', { allow_flush: true, allow_keys: true, deny_commands: ['getdel'] });
    const out = await runKvedge(['acl', '-c', writeConfig({ ...cfg, ...LISTEN })]);
    assert.equal(out.code, 0, out.stderr);
    const [rw, ro] = out.stdout.split('\n').filter((l) => l.startsWith('ACL SETUSER'));
    assert.doesNotMatch(rw, / -flushall | -keys /);
    assert.match(rw, / -getdel( |$)/);
    assert.doesNotMatch(rw, / -select( |$)/, 'kvedge selects database 3');
    assert.match(ro, / \+select( |$)/);
    assert.doesNotMatch(ro, / \+keys( |$)| \+scan( |$)/, 'read-only tokens never get KEYS or SCAN');
    const none = await runKvedge(['acl', '-c', writeConfig({ redis: 'embedded', ...LISTEN })]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /serves no KV API/);
});

test('issue 6.4: read_only_username/password are refused for the embedded Redis', async () => {
    const cfg = kvConfig('embedded');
    cfg.redis = { url: 'embedded', read_only_username: 'x' };
    const out = await runKvedge(['-t', '-c', writeConfig({ ...cfg, ...LISTEN })]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /:\d+:\d+: error: redis: the embedded Redis gets its users from kvedge: read_only_username and read_only_password are for an external Redis\n/);
    assert.equal(out.stderr.match(/error:/g).length, 1, out.stderr);
});
