// Issue 12 (scale-out): min_replicas_ack and kvedge's own session endpoints. A logout (POST <endpoint>/logout) and a
// revocation (DELETE <endpoint>/<pid>) end sessions in the store; on a store with min_replicas_ack they are answered
// 204 only once enough replicas have the change, so a failover cannot bring an ended session back after a 204. A
// primary and one replica on loopback (tests/integration/topology.mjs); the replica stopped with SIGSTOP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startKvedge, waitFor } from './harness.mjs';
import { clears, handleOf, KEY, keyOf, req, startApp } from './session_helpers.mjs';
import { startReplicas } from './topology.mjs';

const T = { timeout: 120_000 };

test('issue 12 scale-out: min_replicas_ack: a session logout or revocation is 204 only once the replica has it, else 503 (the cookie still cleared)', T, async () => {
    const t = await startReplicas({ replicas: 1 });
    const app = await startApp();
    let k;
    try {
        k = await startKvedge({
            threads: 1,
            redis: { url: t.url, command_timeout: '2s', min_replicas_ack: 1, min_replicas_ack_timeout: '200ms' },
            routes: [{ path: '/app', upstream: `${app.url}/`, session: { mode: 'optional', write: true, jwt_key: KEY, store_timeout: '2s' } }],
        });
        const same = { origin: k.url };
        const login = async (u) => handleOf(await req(k, `/app/login?u=${u}`, null));
        // the replica linked: a logout is acknowledged
        const a = await login('u1');
        const ok = await req(k, '/_session/logout', a, same, 'POST');
        assert.equal(ok.status, 204, ok.body);
        assert.equal(await t.clients.primary.exists(keyOf(a)), 0);
        // the replica stopped: the logout is applied on the primary but not acknowledged: 503, the cookie cleared anyway
        const b = await login('u2');
        const c = await login('u2');
        const pid = JSON.parse((await req(k, '/_session/list', c)).body).sessions.find((s) => !s.current)?.pid;
        assert.ok(pid, 'the other session of u2 is listed');
        process.kill(t.replicas[0].pid, 'SIGSTOP');
        try {
            // revoke u2's other session (b) from c, then log c out
            const rv = await req(k, `/_session/${pid}`, c, same, 'DELETE');
            assert.equal(rv.status, 503, rv.body);
            assert.match(rv.body, /revocation not acknowledged/);
            const r = await req(k, '/_session/logout', c, same, 'POST');
            assert.equal(r.status, 503, r.body);
            assert.match(r.body, /logout not acknowledged by enough replicas/);
            assert.ok(clears(r), 'the cookie is cleared whatever the store said');
            assert.equal(await t.clients.primary.exists(keyOf(b)), 0, 'applied on the primary (not rolled back)');
            // reads wait for nothing: a session still lists
            assert.equal((await req(k, '/_session/list', await login('u4'))).status, 200);
        } finally {
            process.kill(t.replicas[0].pid, 'SIGCONT');
        }
        await waitFor(async () => (await req(k, '/_session/logout', await login('u3'), same, 'POST')).status === 204,
            { timeoutMs: 10_000, message: 'logouts acknowledged again' });
        assert.match(k.stderr(), /a logout could not end the session in the store \(not acknowledged by enough replicas\)/);
    } finally {
        const r = await k?.stop();
        await app.stop();
        await t.stop();
        if (r) assertCleanExit(r);
    }
});
