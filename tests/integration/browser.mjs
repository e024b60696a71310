// Real-browser harness for kvedge's integration tests (issue 13, the web console): Debian's Chromium, headless,
// driven by playwright-core (npm, no browser download) over the DevTools protocol. Node 20, ESM.
//
// How a console test uses it (see console_browser.test.mjs):
//
//   import { startKvedge } from './harness.mjs';
//   import { launchBrowser } from './browser.mjs';
//
//   const browser = await launchBrowser();              // one Chromium per test file (or per test)
//   after(() => browser.close());                       // kills its process group by PID, removes the profile
//   const page = await browser.open(`${kvedge.adminUrl}console/`);  // a fresh context + page, waits for 'load'
//   assert.match(await page.text(), /kvedge/);          // document.body.innerText
//   await page.screenshot('console-login');             // <screenshot dir>/console-login.png
//   page.assertClean();                                 // no console error, page error, CSP violation, blocked request
//   await page.close();
//
// What a page records (arrays, in arrival order; each test asserts on them):
//   page.consoleErrors   console messages of type 'error' ({text, url}) and uncaught exceptions ({text, pageError: true})
//   page.cspViolations   `securitypolicyviolation` events ({directive, blockedURI, disposition, sample, sourceFile}),
//                        reported from inside the page by an init script (it runs before any page script and is not
//                        subject to the page's CSP); Chromium also logs each as a console error ("Refused to ...")
//   page.blocked         requests refused by the loopback rule ({url, method}); also a console error ('net::ERR_FAILED')
//   page.failed          requests that failed for any reason ({url, failure})
// so "the console page has no inline script" is `assert.deepEqual(page.cspViolations, [])` on a page served with a
// strict CSP, and a deliberate inline script shows up there with directive 'script-src-elem'.
//
// Isolation and safety (by design, checked by console_browser.test.mjs):
//   - the executable is $KVEDGE_CHROMIUM or /usr/lib/chromium/chromium (Debian's `chromium`; /usr/bin/chromium is a
//     shell wrapper that would only add an extra process and its own flags), started by this module with
//     spawn(detached) so the browser and everything it forks (zygote, renderers, GPU/network utilities) share one
//     process group led by its PID; close() and the exit hooks kill -PID (never by name), then wait for it; a
//     watchdog (a detached bash reading a pipe from this process) kills the group if node dies without its hooks.
//   - a fresh --user-data-dir per launch, in a temp dir removed on close (kept on failure with KVEDGE_KEEP_TMP=1).
//   - loopback only, three layers: (1) every request of every context goes through a Playwright route that aborts
//     anything whose host is not 127.0.0.1/[::1]/localhost and records it in page.blocked; (2) --proxy-server points
//     at a local "sink" (a TCP listener on 127.0.0.1 owned by this module that records and closes every connection),
//     with only 127.0.0.1/localhost/[::1] bypassed, so whatever escapes the route (the browser's own background
//     traffic, a service worker) reaches 127.0.0.1 and nothing else; (3) --host-resolver-rules maps every name but
//     localhost to NOTFOUND, so no DNS query is made either. browser.sinkConnections lists what reached the sink.
//   - --no-sandbox only when running as root (CI and these machines run as root): Chromium refuses to start as root
//     with its sandbox ("Running as root without --no-sandbox is not supported", crbug 638180). The pages loaded are
//     the test's own, from 127.0.0.1, and layer (1)-(3) keep them there.
//   - --remote-debugging-port=0: DevTools listens on 127.0.0.1 on a port the kernel picks (read from Chromium's stderr).
//   - the sanitizer variables of the ASan run (ASAN_OPTIONS, LD_PRELOAD, ...) are not passed to Chromium.
//
// Screenshots go to screenshotDir(): $KVEDGE_SCREENSHOT_DIR, else <build dir>/screenshots ($KVEDGE_BINARY_DIR, set by
// ctest for build/ and build-asan/), else <source>/build/screenshots.

import { after } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

import { SOURCE_DIR } from './harness.mjs';

export const CHROMIUM_BIN = process.env.KVEDGE_CHROMIUM || '/usr/lib/chromium/chromium';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);
const LAUNCH_TIMEOUT_MS = 30_000;

/** Where screenshots go; created on first use. */
export function screenshotDir() {
    const dir = process.env.KVEDGE_SCREENSHOT_DIR ||
        (process.env.KVEDGE_BINARY_DIR ? path.join(process.env.KVEDGE_BINARY_DIR, 'screenshots') : path.join(SOURCE_DIR, 'build', 'screenshots'));
    fs.mkdirSync(dir, { recursive: true });
    return dir;
}

/** True when a URL may be loaded: http(s)/ws(s) to a loopback host, or a non-network scheme (about:, data:, blob:). */
export function isLoopbackUrl(url) {
    let u;
    try {
        u = new URL(url);
    } catch {
        return false;
    }
    if (!['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol)) return ['about:', 'data:', 'blob:'].includes(u.protocol);
    return LOOPBACK_HOSTS.has(u.hostname);
}

// ---------------------------------------------------------------------------------------------
// process registry: every Chromium this module started, by PID (its process group), killed on exit if still there

const browsers = new Map(); // pid -> {child, profileDir}

function killGroup(pid, signal) {
    try {
        process.kill(-pid, signal);
    } catch {}
}

function killStrays(pid, profileDir) {
    killGroup(pid, 'SIGKILL');
    for (const p of pidsNaming(profileDir)) {
        try {
            process.kill(p, 'SIGKILL');
        } catch {}
    }
}

process.on('exit', (code) => {
    for (const [pid, { profileDir }] of browsers) {
        process.stderr.write(`browser.mjs: killing leftover chromium[${pid}]\n`);
        killStrays(pid, profileDir);
        if (code === 0 && !process.env.KVEDGE_KEEP_TMP) fs.rmSync(profileDir, { recursive: true, force: true });
    }
});
// A file whose test failed before close(): after its own after() hooks, kill what is left so the file can end.
after(() => {
    setTimeout(() => {
        for (const [pid, { profileDir }] of browsers) killStrays(pid, profileDir);
    }, 10_000).unref();
});

/** PIDs of the processes in a group (from /proc: this is what `ps -o pid= -g PGID` reads). */
export function groupPids(pgid) {
    const pids = [];
    for (const name of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(name)) continue;
        try {
            // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses
            const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
            const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (Number(fields[2]) === pgid && fields[0] !== 'Z') pids.push(Number(name));
        } catch {}
    }
    return pids;
}

/**
 * PIDs of the processes whose command line names dir: Chromium's crashpad handlers leave the browser's process group
 * (they setsid) but carry --database=<XDG_CONFIG_HOME>/chromium/Crash Reports, and XDG_CONFIG_HOME is inside our
 * fresh profile dir, so this finds ours and no one else's.
 */
export function pidsNaming(dir) {
    const pids = [];
    for (const name of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
        try {
            if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(dir)) pids.push(Number(name));
        } catch {}
    }
    return pids;
}

/**
 * Memory of a process group in KiB: rss (sum of VmRSS: shared pages counted once per process, an upper bound) and pss
 * (sum of Pss from smaps_rollup: shared pages split between their users, what the group really costs).
 */
export function groupMemoryKiB(pgid) {
    let rss = 0;
    let pss = 0;
    for (const pid of groupPids(pgid)) {
        try {
            const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
            if (m) rss += Number(m[1]);
            const p = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
            if (p) pss += Number(p[1]);
        } catch {}
    }
    return { rss, pss };
}

/**
 * A watchdog for the case no hook of this process runs: node exits without its 'exit' event when an exception is
 * thrown at a test file's top level (node:test's handler rethrows it) or when it is SIGKILLed (a ctest timeout).
 * A detached bash (dash's kill takes no process group) blocks reading a pipe whose only writer is this process; when
 * this process is gone the read returns and bash SIGKILLs the browser's process group (by its id). Chromium's crashpad
 * handlers, outside the group, exit on their own once the browser is gone. stop() ends the watchdog after close().
 */
function startWatchdog(pgid) {
    assert.ok(Number.isInteger(pgid) && pgid > 1);
    const dog = spawn('/bin/bash', ['-c', `read -r _ignored; kill -KILL -- -${pgid} 2>/dev/null`], {
        stdio: ['pipe', 'ignore', 'ignore'],
        detached: true,
    });
    dog.on('error', () => {});
    dog.unref();
    dog.stdin.on('error', () => {});
    dog.stdin.unref?.(); // a net.Socket: must not keep this process alive
    return {
        pid: dog.pid,
        stop() {
            try {
                process.kill(dog.pid, 'SIGKILL');
            } catch {}
            dog.stdin.destroy();
        },
    };
}

/** Wait (up to 5 s) until no process of the group or naming the profile dir is left; throws if some still are. */
async function waitGone(pid, profileDir) {
    const deadline = Date.now() + 5000;
    for (;;) {
        const left = [...groupPids(pid), ...pidsNaming(profileDir)];
        if (left.length === 0) return;
        if (Date.now() > deadline) throw new Error(`browser.mjs: chromium processes still alive after SIGKILL: ${left.join(' ')}`);
        killStrays(pid, profileDir);
        await new Promise((r) => setTimeout(r, 50));
    }
}

// ---------------------------------------------------------------------------------------------
// the sink: the proxy every non-loopback request of Chromium is sent to

async function startSink() {
    const connections = [];
    const sockets = new Set();
    const server = net.createServer((sock) => {
        sockets.add(sock);
        sock.once('close', () => sockets.delete(sock));
        const entry = { time: Date.now(), firstLine: '' };
        connections.push(entry);
        sock.once('data', (d) => {
            entry.firstLine = d.toString('latin1').split('\r\n')[0].slice(0, 200);
            sock.destroy();
        });
        sock.setTimeout(1000, () => sock.destroy());
        sock.on('error', () => {});
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: 0 }, resolve);
    });
    return {
        port: server.address().port,
        connections,
        stop: () =>
            new Promise((resolve) => {
                for (const s of sockets) s.destroy();
                server.close(() => resolve());
            }),
    };
}

// ---------------------------------------------------------------------------------------------
// launch

function chromiumEnv(profileDir) {
    const env = { ...process.env };
    for (const k of Object.keys(env)) {
        if (/^(ASAN|LSAN|UBSAN|TSAN|MSAN)_OPTIONS$/.test(k) || k === 'LD_PRELOAD') delete env[k];
    }
    env.HOME = env.HOME || os.tmpdir();
    env.XDG_CONFIG_HOME = path.join(profileDir, 'xdg-config'); // crash reports (and their handlers' args) go there
    return env;
}

/**
 * Start a headless Chromium and connect playwright-core to it.
 * opts: {routeLoopbackOnly = true (layer 1 above; false only to test the flag layers), extraArgs = []}
 * Returns {pid, profileDir, sinkConnections, open(url, opts), newPage(opts), memoryKiB(), pids(), close()}.
 */
export async function launchBrowser(opts = {}) {
    const routeLoopbackOnly = opts.routeLoopbackOnly ?? true;
    const sink = await startSink();
    const profileDir = fs.mkdtempSync(path.join(process.env.KVEDGE_TEST_TMP || os.tmpdir(), 'kvedge-chromium-'));
    const args = [
        '--headless',
        `--user-data-dir=${profileDir}`,
        '--remote-debugging-address=127.0.0.1',
        '--remote-debugging-port=0',
        `--proxy-server=http://127.0.0.1:${sink.port}`,
        '--proxy-bypass-list=127.0.0.1;localhost;[::1]',
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-default-apps',
        '--disable-domain-reliability',
        '--disable-client-side-phishing-detection',
        '--disable-breakpad',
        '--no-pings',
        '--metrics-recording-only',
        '--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,NetworkTimeServiceQuerying',
        '--mute-audio',
        '--password-store=basic',
        '--use-mock-keychain',
        '--hide-scrollbars',
        '--window-size=1280,800',
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
        ...(opts.extraArgs ?? []),
        'about:blank',
    ];
    const child = spawn(CHROMIUM_BIN, args, { env: chromiumEnv(profileDir), stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    const exited = new Promise((resolve) => {
        child.once('error', (err) => {
            stderr += `spawn error: ${err.message}\n`;
            resolve();
        });
        child.once('exit', () => resolve());
    });
    if (child.pid !== undefined) browsers.set(child.pid, { child, profileDir });
    const pid = child.pid;
    const watchdog = pid === undefined ? null : startWatchdog(pid);

    const cleanupFailedStart = async () => {
        if (pid !== undefined) {
            killStrays(pid, profileDir);
            await exited;
            await waitGone(pid, profileDir);
            browsers.delete(pid);
        }
        watchdog?.stop();
        await sink.stop();
        fs.rmSync(profileDir, { recursive: true, force: true });
    };

    // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr once it is ready.
    const wsEndpoint = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve(null), LAUNCH_TIMEOUT_MS);
        child.stderr.on('data', (d) => {
            stderr += d.toString('utf8');
            if (stderr.length > 1 << 20) stderr = stderr.slice(-(1 << 19));
            const m = /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(stderr);
            if (m) {
                clearTimeout(timer);
                resolve(m[1]);
            }
        });
        exited.then(() => {
            clearTimeout(timer);
            resolve(null);
        });
    });
    if (!wsEndpoint) {
        await cleanupFailedStart();
        throw new Error(`launchBrowser: ${CHROMIUM_BIN} did not start (no DevTools endpoint within ${LAUNCH_TIMEOUT_MS} ms` +
            ` or it exited). Is Debian's chromium installed (scripts/install-deps.sh)?\n--- stderr ---\n${stderr}`);
    }
    let browser;
    try {
        browser = await chromium.connectOverCDP(wsEndpoint, { timeout: LAUNCH_TIMEOUT_MS });
    } catch (e) {
        await cleanupFailedStart();
        throw new Error(`launchBrowser: playwright-core could not connect to ${wsEndpoint}: ${e.message}`);
    }

    const contexts = new Set();

    /** A fresh browser context (its own cookies and storage) with one page, instrumented. */
    async function newPage(pageOpts = {}) {
        const context = await browser.newContext({ viewport: pageOpts.viewport ?? { width: 1280, height: 800 } });
        contexts.add(context);
        const rec = { consoleErrors: [], cspViolations: [], blocked: [], failed: [], console: [] };
        if (routeLoopbackOnly) {
            await context.route('**/*', (route) => {
                const req = route.request();
                if (isLoopbackUrl(req.url())) return route.continue();
                rec.blocked.push({ url: req.url(), method: req.method() });
                return route.abort('blockedbyclient');
            });
        }
        await context.exposeBinding('__kvedgeCspViolation', (_source, v) => {
            rec.cspViolations.push(v);
        });
        await context.addInitScript(() => {
            document.addEventListener('securitypolicyviolation', (e) => {
                // the binding is a function on window; a page cannot remove it before this runs
                window.__kvedgeCspViolation({
                    directive: e.effectiveDirective,
                    violatedDirective: e.violatedDirective,
                    blockedURI: e.blockedURI,
                    disposition: e.disposition,
                    sample: e.sample,
                    sourceFile: e.sourceFile,
                    line: e.lineNumber,
                });
            });
        });
        const page = await context.newPage();
        page.on('console', (msg) => {
            const entry = { type: msg.type(), text: msg.text(), url: msg.location()?.url };
            rec.console.push(entry);
            if (msg.type() === 'error') rec.consoleErrors.push(entry);
        });
        page.on('pageerror', (err) => rec.consoleErrors.push({ text: String(err?.message ?? err), pageError: true }));
        page.on('requestfailed', (req) => rec.failed.push({ url: req.url(), failure: req.failure()?.errorText }));

        return Object.assign(rec, {
            page,
            context,
            /** Navigate and wait for 'load'; returns the main response ({status(), headers(), ...}). */
            goto(url, { waitUntil = 'load', timeout = 15_000 } = {}) {
                return page.goto(url, { waitUntil, timeout });
            },
            /** The visible text of the document (body.innerText; the raw text for a text/plain response). */
            text() {
                return page.evaluate(() => document.body?.innerText ?? document.documentElement.textContent);
            },
            /** Screenshot to <screenshotDir()>/<name>.png (full page); returns the path. */
            async screenshot(name, { fullPage = true } = {}) {
                assert.match(name, /^[A-Za-z0-9._-]+$/, 'screenshot name: letters, digits, . _ -');
                const file = path.join(screenshotDir(), `${name}.png`);
                await page.screenshot({ path: file, fullPage });
                return file;
            },
            /** Fail unless nothing was recorded: no console error, page error, CSP violation or blocked request. */
            assertClean(what = page.url()) {
                const problems = { consoleErrors: rec.consoleErrors, cspViolations: rec.cspViolations, blocked: rec.blocked };
                const bad = Object.entries(problems).filter(([, v]) => v.length > 0);
                if (bad.length) assert.fail(`${what}: ${JSON.stringify(Object.fromEntries(bad), null, 2)}`);
            },
            async close() {
                contexts.delete(context);
                await context.close().catch(() => {});
            },
        });
    }

    let closing = null;
    return {
        pid,
        profileDir,
        wsEndpoint,
        /** Connections that reached the sink proxy ({time, firstLine}): what Chromium tried to send off the machine. */
        sinkConnections: sink.connections,
        stderr: () => stderr,
        newPage,
        /** newPage() then goto(url): the page, with the main response in page.response. */
        async open(url, pageOpts = {}) {
            const p = await newPage(pageOpts);
            p.response = await p.goto(url, pageOpts);
            return p;
        },
        /** Every live process of this browser: its process group plus its crashpad handlers. */
        pids: () => (pid === undefined ? [] : [...new Set([...groupPids(pid), ...pidsNaming(profileDir)])]),
        /** {rss, pss} of the browser's process group in KiB (see groupMemoryKiB). */
        memoryKiB: () => (pid === undefined ? { rss: 0, pss: 0 } : groupMemoryKiB(pid)),
        /** Close the contexts, then SIGTERM the process group, SIGKILL after 5 s; remove the profile. Idempotent. */
        close() {
            closing ??= (async () => {
                for (const c of contexts) await c.close().catch(() => {});
                await browser.close().catch(() => {}); // disconnects (connectOverCDP does not own the process)
                killGroup(pid, 'SIGTERM');
                const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5000);
                await exited;
                clearTimeout(timer);
                // the leader is gone; what is left in its group (a renderer that ignored SIGTERM) and its crashpad
                // handlers (own session, found by the profile path in their arguments) go too, and are waited for
                killStrays(pid, profileDir);
                await waitGone(pid, profileDir);
                browsers.delete(pid);
                watchdog?.stop();
                await sink.stop();
                if (!process.env.KVEDGE_KEEP_TMP) fs.rmSync(profileDir, { recursive: true, force: true });
            })();
            return closing;
        },
    };
}

/**
 * Logs in to the web console through its form on `page` (a browser.open() result showing the console's page) with
 * `token`, and waits until the logged-in page shows its navigation. For a login expected to succeed.
 */
export async function consoleLogin(page, token) {
    await page.page.waitForSelector('#login:not([hidden])');
    await page.page.fill('input[name=token]', token);
    await Promise.all([page.page.waitForNavigation(), page.page.click('#login button[type=submit]')]);
    await page.page.waitForSelector('#nav:not([hidden])');
}
