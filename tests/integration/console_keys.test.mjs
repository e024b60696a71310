// Issue 13 (web console), the keys page in a real Chromium: log in through the form, browse a pattern, open and edit a
// key of every type, create keys, change a TTL, delete with the page's confirmation, a `<script>` key name rendered as
// text (no CSP violation, no dialog), a read-only session sees no editor, and a store that is down shows an error.
// Screenshots: console-keys (the list), console-key-hash (a hash's view).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startKvedge, startRedis, waitFor } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';

const ADMIN = 'keys-browser-admin-token-0123456789';
const READER = 'keys-browser-reader-token-0123456789';
const SCRIPT_KEY = 'web:<script>alert(1)</script>';
const BIN_SHOWN = 'hex 77 65 62 3a ff fe'; // the key "web:\xff\xfe" as the page shows it

let redis, other, rc, k, browser;

before(async () => {
    redis = await startRedis();
    other = await startRedis();
    rc = redis.client();
    await other.client().set('elsewhere:1', 'in the other store');
    k = await startKvedge({
        threads: 1,
        redis: redis.url,
        stores: { other: other.url },
        admin: { token: ADMIN, read_only_token: READER, console: { enabled: true } },
        kv: { path: '/kv', tokens: [{ token: 'keys-browser-kv-token-01234' }] },
    }, { waitReady: true });
    const p = rc.pipeline();
    p.set('web:string', 'hello');
    p.pexpire('web:string', 600_000);
    p.hset('web:hash', 'color', 'blue', 'size', 'large', 'shape', 'round');
    p.rpush('web:list', 'first', 'second', 'third');
    p.sadd('web:set', 'apple', 'banana');
    p.zadd('web:zset', 1, 'bronze', 2, 'silver', 3, 'gold');
    p.xadd('web:stream', '1-1', 'event', 'login');
    p.xadd('web:stream', '2-1', 'event', 'logout');
    p.set(SCRIPT_KEY, '<img src=x onerror=alert(2)>');
    p.set(Buffer.from([0x77, 0x65, 0x62, 0x3a, 0xff, 0xfe]), Buffer.from([0x00, 0xc3, 0x28]));
    for (let i = 0; i < 30; i++) p.set(`other:${i}`, 'x');
    await p.exec();
    browser = await launchBrowser();
});

after(async () => {
    try {
        await browser?.close();
    } finally {
        if (k) assertCleanExit(await k.stop());
        await redis?.stop();
        await other?.stop();
    }
});

/** logs in through the form and opens the keys page; records dialogs (an alert() would be one) */
async function keysPage(token, { rows = true } = {}) {
    const page = await browser.open(`${k.url}/ui/`);
    page.dialogs = [];
    page.page.on('dialog', (d) => {
        page.dialogs.push(d.message());
        d.dismiss().catch(() => {});
    });
    await consoleLogin(page, token);
    await page.page.click('a[href="#keys"]');
    await page.page.waitForSelector(rows ? '#keys:not([hidden]) #keys-list tbody tr' : '#keys:not([hidden])');
    return page;
}

async function browse(page, pattern) {
    await page.page.fill('#keys-pattern', pattern);
    await page.page.click('#keys-scan');
    // SCAN filters page by page: keep asking for more until the scan is done
    await waitFor(async () => {
        if (await page.page.isVisible('#keys-more')) await page.page.click('#keys-more');
        return (await page.page.textContent('#keys-count')).match(/^\d+ keys$/);
    }, { message: `scan of ${pattern} done` });
    return page.page.$$eval('#keys-list tbody .kv-key', (as) => as.map((a) => a.textContent));
}

async function open(page, name) {
    await page.page.locator('#keys-list .kv-key', { hasText: name }).first().click();
    await page.page.waitForFunction((n) => document.querySelector('#keys-head h3')?.textContent === n, name);
}

/** clicks `selector` (a string or a locator) and waits until the key's view was rendered again */
async function act(page, target) {
    const before = await page.page.getAttribute('#keys-view', 'data-renders');
    await (typeof target === 'string' ? page.page.click(target) : target.click());
    await page.page.waitForFunction((b) => (document.getElementById('keys-view').dataset.renders ?? null) !== b, before);
}

// the row of the open key's table whose first cell is `text`
const itemRow = (page, text) => page.page.locator(`xpath=//table[@id="keys-items-table"]//tr[td[1]="${text}"]`);

test('issue 13 console keys: browse a pattern in Chromium; a <script> key name is text, no CSP violation, no dialog', async () => {
    const page = await keysPage(ADMIN);
    try {
        const names = await browse(page, 'web:*');
        assert.ok(names.includes(SCRIPT_KEY), JSON.stringify(names));
        assert.ok(names.includes('web:hash') && !names.some((n) => n.startsWith('other:')), JSON.stringify(names));
        assert.ok(names.includes(BIN_SHOWN), JSON.stringify(names)); // not UTF-8: hex, marked
        const scripts = await page.page.$$eval('script', (s) => s.map((x) => x.getAttribute('src')));
        assert.deepEqual(scripts, ['app.js', 'overview.js', 'keys.js', 'cache.js', 'sessions.js', 'config.js']);
        await open(page, SCRIPT_KEY);
        assert.equal(await page.page.textContent('#keys-items .kv-string'), '<img src=x onerror=alert(2)>');
        assert.equal(await page.page.$$eval('#keys img', (i) => i.length), 0);
        await page.page.waitForTimeout(200);
        assert.deepEqual(page.dialogs, []);
        await browse(page, 'web:*');
        await page.screenshot('console-keys');
        // several stores: a selector, the KV API's store first chosen
        assert.equal(await page.page.inputValue('#keys-store'), 'default');
        assert.deepEqual(await page.page.$$eval('#keys-store option', (o) => o.map((x) => x.textContent)), ['default (KV API)', 'other']);
        await page.page.selectOption('#keys-store', 'other');
        assert.deepEqual(await browse(page, '*'), ['elsewhere:1']);
        await open(page, 'elsewhere:1');
        assert.equal(await page.page.textContent('#keys-items .kv-string'), 'in the other store');
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console keys: open and edit a key of every type in Chromium', async () => {
    const page = await keysPage(ADMIN);
    const p = page.page;
    try {
        await browse(page, 'web:*');
        // string
        await open(page, 'web:string');
        await p.fill('#keys-items textarea.kv-input', 'hello, world');
        await act(page, '#keys-items .kv-save');
        await waitFor(async () => (await rc.get('web:string')) === 'hello, world', { message: 'SET' });
        assert.ok((await rc.pttl('web:string')) > 500_000, 'the edit kept the TTL');
        // hash
        await open(page, 'web:hash');
        await p.waitForSelector('#keys-items-table tr');
        await page.screenshot('console-key-hash');
        await itemRow(page, 'size').locator('input.kv-input').fill('small');
        await act(page, itemRow(page, 'size').locator('.kv-save'));
        await waitFor(async () => (await rc.hget('web:hash', 'size')) === 'small', { message: 'HSET' });
        await act(page, itemRow(page, 'shape').locator('.kv-remove'));
        await waitFor(async () => (await rc.hexists('web:hash', 'shape')) === 0, { message: 'HDEL' });
        await p.fill('.kv-add .kv-input >> nth=0', 'weight');
        await p.fill('.kv-add .kv-input >> nth=1', '3kg');
        await act(page, '.kv-add-button');
        await waitFor(async () => (await rc.hget('web:hash', 'weight')) === '3kg', { message: 'HSET new field' });
        // list
        await open(page, 'web:list');
        await itemRow(page, '1').locator('input.kv-input').fill('SECOND');
        await act(page, itemRow(page, '1').locator('.kv-save'));
        await waitFor(async () => (await rc.lindex('web:list', 1)) === 'SECOND', { message: 'LSET' });
        await act(page, itemRow(page, '0').locator('.kv-remove'));
        await waitFor(async () => (await rc.llen('web:list')) === 2, { message: 'LREM' });
        await p.fill('.kv-add .kv-input', 'fourth');
        await act(page, '.kv-add-button');
        await waitFor(async () => JSON.stringify(await rc.lrange('web:list', 0, -1)) === '["SECOND","third","fourth"]', { message: 'RPUSH' });
        // set
        await open(page, 'web:set');
        await p.fill('.kv-add .kv-input', 'cherry');
        await act(page, '.kv-add-button');
        await waitFor(async () => (await rc.sismember('web:set', 'cherry')) === 1, { message: 'SADD' });
        await act(page, itemRow(page, 'apple').locator('.kv-remove'));
        await waitFor(async () => (await rc.sismember('web:set', 'apple')) === 0, { message: 'SREM' });
        // sorted set
        await open(page, 'web:zset');
        await itemRow(page, 'bronze').locator('.kv-score').fill('10');
        await act(page, itemRow(page, 'bronze').locator('.kv-save'));
        await waitFor(async () => (await rc.zscore('web:zset', 'bronze')) === '10', { message: 'ZADD score' });
        await act(page, itemRow(page, 'silver').locator('.kv-remove'));
        await waitFor(async () => (await rc.zscore('web:zset', 'silver')) === null, { message: 'ZREM' });
        await p.fill('.kv-add .kv-input', 'platinum');
        await p.fill('.kv-add .kv-score', '4.5');
        await act(page, '.kv-add-button');
        await waitFor(async () => (await rc.zscore('web:zset', 'platinum')) === '4.5', { message: 'ZADD new' });
        // stream
        await open(page, 'web:stream');
        await p.fill('.kv-add .kv-input >> nth=0', 'event');
        await p.fill('.kv-add .kv-input >> nth=1', 'purchase');
        await act(page, '.kv-add-button');
        await waitFor(async () => (await rc.xlen('web:stream')) === 3, { message: 'XADD' });
        await act(page, itemRow(page, '1-1').locator('.kv-remove'));
        await waitFor(async () => (await rc.xlen('web:stream')) === 2, { message: 'XDEL' });
        const ids = (await rc.xrange('web:stream', '-', '+')).map(([id]) => id);
        assert.equal(ids[0], '2-1');
        // a binary value is edited as hex
        await browse(page, 'web:*');
        await open(page, BIN_SHOWN);
        assert.equal(await p.inputValue('#keys-items textarea.kv-input'), '00 c3 28');
        await p.fill('#keys-items textarea.kv-input', '01 ff 00');
        await act(page, '#keys-items .kv-save');
        await waitFor(async () => (await rc.getBuffer(Buffer.from([0x77, 0x65, 0x62, 0x3a, 0xff, 0xfe])))?.equals(Buffer.from([1, 0xff, 0])),
            { message: 'SET binary' });
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console keys: create a key of every type from the page', async () => {
    const page = await keysPage(ADMIN);
    const p = page.page;
    try {
        const made = { string: ['a value'], hash: ['f', 'v'], list: ['e1'], set: ['m1'], zset: ['m1', null, '7'], stream: ['f', 'v'] };
        for (const [type, [a, b, score]] of Object.entries(made)) {
            await p.selectOption('#keys-new-type', type);
            await p.fill('#keys-new .kv-input >> nth=0', `new:${type}`);
            await p.fill('#keys-new .kv-input >> nth=1', a);
            await p.fill('#keys-new .kv-input >> nth=2', b ?? '');
            await p.fill('#keys-new .kv-score', score ?? '');
            await p.click('#keys-new .kv-create');
            await waitFor(async () => (await rc.type(`new:${type}`)) === type, { message: `created ${type}` });
            await p.waitForFunction((n) => document.querySelector('#keys-head h3')?.textContent === n, `new:${type}`);
        }
        assert.equal(await rc.zscore('new:zset', 'm1'), '7');
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console keys: change a TTL, then delete with the page\'s confirmation', async () => {
    await rc.set('web:ttl', 'v');
    const page = await keysPage(ADMIN);
    const p = page.page;
    try {
        await browse(page, 'web:ttl');
        await open(page, 'web:ttl');
        assert.match(await p.textContent('#keys-head'), /TTL none/);
        await p.fill('.kv-ttl', '120');
        await act(page, '.kv-set-ttl');
        await waitFor(async () => (await rc.pttl('web:ttl')) > 100_000, { message: 'PEXPIRE' });
        await p.waitForFunction(() => /TTL 1[12]\d s/.test(document.getElementById('keys-head').textContent));
        await act(page, '.kv-persist');
        await waitFor(async () => (await rc.pttl('web:ttl')) === -1, { message: 'PERSIST' });
        // delete asks first: nothing is sent until "Yes, delete"
        await p.click('.kv-delete');
        await p.waitForSelector('.kv-confirm:not([hidden])');
        await p.click('.kv-delete-no');
        await p.waitForSelector('.kv-confirm', { state: 'hidden' });
        assert.equal(await rc.exists('web:ttl'), 1);
        await p.click('.kv-delete');
        await p.click('.kv-delete-yes');
        await waitFor(async () => (await rc.exists('web:ttl')) === 0, { message: 'DEL' });
        await p.waitForSelector('#keys-view', { state: 'hidden' });
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console keys: a read-only session sees the data and no editor', async () => {
    const page = await keysPage(READER);
    const p = page.page;
    try {
        await browse(page, 'web:*');
        await open(page, 'web:hash');
        await p.waitForSelector('#keys-items-table tr');
        for (const sel of ['.kv-edit', '.kv-input', '.kv-save', '.kv-remove', '.kv-delete', '.kv-set-ttl', '#keys-new', '.kv-add'])
            assert.equal(await p.locator(sel).count() === 0 || !(await p.locator(sel).first().isVisible()), true, sel);
        assert.equal(await p.locator('#keys-new').count(), 0);
        assert.ok((await p.textContent('#keys-items-table')).includes('color'));
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console keys: the store stopped: a clear error on the page, and kvedge keeps serving', async () => {
    await redis.stop();
    const page = await keysPage(ADMIN, { rows: false });
    try {
        await page.page.waitForSelector('#keys-error:not([hidden])');
        assert.match(await page.page.textContent('#keys-error'), /the store "default" is unavailable/);
        // the only console error is Chromium's note of the 503 itself
        assert.deepEqual(page.cspViolations, []);
        assert.ok(page.consoleErrors.every((e) => /status of 503/.test(e.text)), JSON.stringify(page.consoleErrors));
        // kvedge still serves the console
        await page.page.click('#keys-scan');
        await page.page.waitForSelector('#keys-error:not([hidden])');
    } finally {
        await page.close();
    }
});
