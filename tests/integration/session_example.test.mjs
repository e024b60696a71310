// Issue 10: the README's login/logout example runs as written: examples/sessions.yaml in front of
// examples/session-app.mjs (the app verifies X-Session-JWT itself and sends X-Session-Login / -Set / -Logout), with
// only the ports and the store replaced (a private redis-server instead of `redis: embedded`; in the rest store mode,
// F16, the sessions in a KV REST store on this kvedge's own /_kv). The cookie and the tokens seen never reach a log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { assertCleanExit, freePort, http, SOURCE_DIR, startKvedge, startRedis, waitFor } from './harness.mjs';
import { STORE_MODE, clears, handleOf, keyOf, leakedSecrets, rememberSecret, restStoreYaml } from './session_helpers.mjs';

const APP_KEY = 'example-app-test-key-0123456789abcdef-0123';

async function startExampleApp() {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(SOURCE_DIR, 'examples/session-app.mjs')], {
        env: { ...process.env, PORT: String(port), SESSION_JWT_KEY: APP_KEY },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await waitFor(() => out.includes('session app on'), { message: 'the example app listens' });
    return {
        url: `http://127.0.0.1:${port}/`,
        stop: () => new Promise((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', resolve);
            child.kill('SIGTERM');
        }),
    };
}

function exampleConfig(app, redis, port) {
    const yaml = fs.readFileSync(path.join(SOURCE_DIR, 'examples/sessions.yaml'), 'utf8');
    assert.match(yaml, /port: 8080/);
    assert.match(yaml, /redis: embedded/);
    const config = yaml
        .replace(/port: 8080/, `port: ${port}`)
        .replaceAll('http://127.0.0.1:8082/', app.url)
        .replace(/^redis: embedded.*$/m, `redis: "${redis.url}"`);
    return restStoreYaml(config, port);
}

test('issue 10: the README\'s login/logout example: examples/sessions.yaml with examples/session-app.mjs', async () => {
    const redis = await startRedis();
    const app = await startExampleApp();
    const port = await freePort();
    const k = await startKvedge(exampleConfig(app, redis, port), { port, env: { SESSION_JWT_KEY: APP_KEY } });
    const client = redis.client();
    const get = (p, cookie) => http('GET', `${k.url}${p}`, { headers: cookie ? { cookie: `__Host-sid=${cookie}` } : {} });
    try {
        const login = await get('/app/login?user=ada');
        assert.equal(login.status, 200);
        const h = handleOf(login);
        rememberSecret(h);
        assert.equal(login.headers['cache-control'], 'no-store');
        assert.deepEqual(JSON.parse(login.body), { welcome: 'ada' });
        assert.equal((await client.hgetall(keyOf(h))).uid, 'ada');
        const me = JSON.parse((await get('/app/me', h)).body);
        assert.deepEqual(me, { status: 'active', user: 'ada', data: { theme: 'light' } }, 'the app verified the JWT itself');
        assert.equal((await get('/app/set?theme=dark', h)).status, 200);
        assert.deepEqual(JSON.parse((await get('/account/me', h)).body).data, { theme: 'dark' });
        assert.equal((await get('/account/me')).status, 401, 'a required route without a session');
        const logout = await get('/app/logout', h);
        assert.deepEqual(JSON.parse(logout.body), { bye: 'ada' });
        assert.ok(clears(logout), 'the cookie is cleared');
        assert.equal(await client.exists(keyOf(h)), 0, 'the session is gone');
        assert.deepEqual(JSON.parse((await get('/app/me', h)).body), { status: 'anonymous', user: null, data: {} });
        assert.equal((await get('/account/me', h)).status, 401);
    } finally {
        const result = await k.stop();
        await app.stop();
        await redis.stop();
        assertCleanExit(result);
        assert.deepEqual(leakedSecrets(`${result.stdout}\n${result.stderr}`).length, 0, 'S15: no cookie value in the logs');
        if (STORE_MODE === 'rest') assert.match(result.stdout, /"POST \/_kv/, 'the sessions went through the KV REST store');
    }
});
