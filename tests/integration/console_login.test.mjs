// Issue 13 (web console) in a real browser: the login form, the page skeleton (every page registered, no CSP
// violation, no console error), the read-only marker and logging out. Each page's own suite is console_<page>.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanExit, startKvedge } from './harness.mjs';
import { consoleLogin, launchBrowser } from './browser.mjs';

const ADMIN = 'console-admin-token-0123456789abcdef';
const READER = 'console-reader-token-0123456789abcdef';
const k = await startKvedge({ threads: 1, admin: { token: ADMIN, read_only_token: READER, console: { enabled: true } } });
const browser = await launchBrowser();
after(async () => {
    try {
        await browser.close();
    } finally {
        assertCleanExit(await k.stop());
    }
});

async function login(token) {
    const page = await browser.open(`${k.url}/ui/`);
    await consoleLogin(page, token);
    return page;
}

test('issue 13 console: logging in with the admin token in Chromium shows every page in the nav, no CSP violation', async () => {
    const page = await login(ADMIN);
    try {
        await page.page.waitForSelector('#nav:not([hidden])');
        const nav = await page.page.$$eval('#pages a', (as) => as.map((a) => a.hash));
        assert.deepEqual(nav.slice(0, 1), ['#overview']);
        assert.ok(nav.includes('#config'), `nav ${nav}`);
        assert.equal(await page.page.textContent('#who'), 'read-write session');
        await page.page.click('a[href="#config"]');
        await page.page.waitForFunction(() => document.getElementById('config-text').textContent.includes('"console"'));
        assert.equal(await page.page.isHidden('#overview'), true);
        page.assertClean();
        await page.page.click('#logout');
        await page.page.waitForSelector('#login:not([hidden])');
        page.assertClean();
    } finally {
        await page.close();
    }
});

test('issue 13 console: a wrong token in the login form is refused (401) and shows no page', async () => {
    const page = await browser.open(`${k.url}/ui/`);
    try {
        await page.page.fill('input[name=token]', 'wrong-token');
        const [res] = await Promise.all([page.page.waitForNavigation(), page.page.click('#login button[type=submit]')]);
        assert.equal(res.status(), 401);
        assert.equal(await page.page.$('#nav:not([hidden])'), null);
    } finally {
        await page.close();
    }
});

test('issue 13 console: the read-only token gives a read-only session, marked on the page', async () => {
    const page = await login(READER);
    try {
        await page.page.waitForSelector('#nav:not([hidden])');
        assert.equal(await page.page.textContent('#who'), 'read-only session');
        assert.equal(await page.page.evaluate(() => document.body.classList.contains('read-only')), true);
        page.assertClean();
    } finally {
        await page.close();
    }
});
