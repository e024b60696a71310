#!/usr/bin/env node
// Conformance run of an HTTP cache with the cache-tests suite (npm package http-cache-tests, devDependency),
// scored with the suite's own rules. See README.md beside this file.
//
//   node tests/cache-conformance/run.mjs [options]
//
// 1. starts the suite's origin server on a free 127.0.0.1 port (origin.mjs);
// 2. starts kvedge in front of it with a config template (default kvedge-cache.yaml), after checking that
//    `kvedge -t` accepts it; or, with --proxy-url, uses a proxy that is already running (nginx, Varnish, ...)
//    and was pointed at --origin-port;
// 3. runs the suite's CLI client (cli.mjs) through the proxy;
// 4. scores the results (score.mjs), prints the required tests' failures and `N passed, M failed`, and
//    compares the run with a known-failures list.
//
// Exit status: 0 = the run matches the known-failures list (or no list was given); 1 = it does not (a
// required test that does not pass is missing from the list, a listed test passes, or the list names a test
// that is not a required one); 2 = the run itself could not be done (template refused by `kvedge -t`, kvedge
// or the origin did not start, the client crashed or timed out, kvedge did not exit cleanly).
import { spawn, spawnSync, fork } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareKnown, knownFailuresText, loadSuite, parseKnownFailures, score } from './score.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const HOST = '127.0.0.1';
const DEFAULT_TEMPLATE = path.join(HERE, 'kvedge-cache.yaml');
const DEFAULT_KNOWN = path.join(HERE, 'known-failures.txt');
const SANITIZER_MARKERS = ['AddressSanitizer', 'LeakSanitizer', 'runtime error:', 'UndefinedBehaviorSanitizer'];

const USAGE = `usage: node tests/cache-conformance/run.mjs [options]

target (one of):
  --config FILE           kvedge config template (default: tests/cache-conformance/kvedge-cache.yaml);
                          \${CACHE_TESTS_PORT}, \${CACHE_TESTS_ORIGIN}, \${CACHE_TESTS_DIR} are set for it
  --kvedge BIN            kvedge binary (default: $KVEDGE_BIN, else build/kvedge)
  --proxy-url URL         test a proxy that is already running (no kvedge is started); it must forward
                          to the origin, so give --origin-port too
  --origin-port N         port of the suite's origin on 127.0.0.1 (default: a free one)
  --direct                no proxy: the client talks to the origin (the suite's "no cache" calibration)

judging:
  --known-failures FILE   required tests allowed not to pass, one "test-id  reason" a line
                          (default: known-failures.txt for the default template, none otherwise)
  --no-known-failures     only report, do not judge (exit 0 when the run itself worked)
  --write-known-failures FILE
                          write this run's non-passing required tests as a draft list (reasons = the
                          suite's messages: edit them into real reasons before committing)

output:
  --results FILE          write the raw results and each test's outcome as JSON
  --all                   also list the optimal tests that warned and the checks that said no
  --id TEST-ID            run one test with the suite's request/response dumps (no scoring)
  --exclude TEST-ID       do not run this test (repeatable; diagnosis only: it scores as untested, so
                          a known-failures list must name it)
  --timeout SECONDS       bound on the client run (default 300)
  -h, --help`;

function parseArgs(argv) {
    const opts = { timeoutSec: 300, all: false, knownFailures: undefined, exclude: [] };
    const need = (i, name) => {
        if (i + 1 >= argv.length) usageError(`${name} needs a value`);
        return argv[i + 1];
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        switch (a) {
            case '--config': opts.config = path.resolve(need(i, a)); i++; break;
            case '--kvedge': opts.kvedge = path.resolve(need(i, a)); i++; break;
            case '--proxy-url': opts.proxyUrl = need(i, a).replace(/\/+$/, ''); i++; break;
            case '--origin-port': opts.originPort = Number(need(i, a)); i++; break;
            case '--direct': opts.direct = true; break;
            case '--known-failures': opts.knownFailures = path.resolve(need(i, a)); i++; break;
            case '--no-known-failures': opts.knownFailures = null; break;
            case '--write-known-failures': opts.writeKnown = path.resolve(need(i, a)); i++; break;
            case '--results': opts.resultsFile = path.resolve(need(i, a)); i++; break;
            case '--all': opts.all = true; break;
            case '--id': opts.id = need(i, a); i++; break;
            case '--exclude': opts.exclude.push(need(i, a)); i++; break;
            case '--timeout': opts.timeoutSec = Number(need(i, a)); i++; break;
            case '-h': case '--help': console.log(USAGE); process.exit(0); break; // eslint-disable-line no-fallthrough
            default: usageError(`unknown argument: ${a}`);
        }
    }
    if (opts.direct && (opts.proxyUrl || opts.config || opts.kvedge)) usageError('--direct tests no proxy: --proxy-url/--config/--kvedge do not apply');
    if (opts.proxyUrl && (opts.config || opts.kvedge)) usageError('--proxy-url tests a running proxy: --config/--kvedge do not apply');
    if (opts.proxyUrl && !/^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(opts.proxyUrl)) {
        usageError(`--proxy-url must be an http:// loopback address (scheme://host:port), got ${opts.proxyUrl}`);
    }
    if (opts.proxyUrl && opts.originPort === undefined) usageError('--proxy-url needs --origin-port (the port the proxy forwards to)');
    if (opts.originPort !== undefined && !(Number.isInteger(opts.originPort) && opts.originPort > 0 && opts.originPort < 65536)) {
        usageError('--origin-port: expected a port from 1 to 65535');
    }
    if (!(opts.timeoutSec > 0)) usageError('--timeout: expected a positive number of seconds');
    if (!opts.proxyUrl && !opts.direct) {
        opts.kvedge ??= process.env.KVEDGE_BIN ? path.resolve(process.env.KVEDGE_BIN) : path.join(REPO, 'build/kvedge');
        opts.config ??= DEFAULT_TEMPLATE;
        if (opts.knownFailures === undefined && opts.config === DEFAULT_TEMPLATE) opts.knownFailures = DEFAULT_KNOWN;
    }
    opts.knownFailures ??= null;
    return opts;
}

function usageError(msg) {
    console.error(`run.mjs: ${msg}\n\n${USAGE}`);
    process.exit(2);
}

class RunError extends Error {}

// ---------------------------------------------------------------------------------------------
// child processes: tracked by PID, each the leader of its own process group, killed by that id only

const children = new Set();

function track(child) {
    children.add(child);
    child.once('exit', () => children.delete(child));
    return child;
}

function killGroup(child, signal) {
    for (const target of [-child.pid, child.pid]) {
        try {
            process.kill(target, signal);
        } catch {}
    }
}

process.on('exit', () => {
    for (const child of children) killGroup(child, 'SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
        for (const child of children) killGroup(child, 'SIGKILL');
        process.exit(128 + os.constants.signals[sig]);
    });
}

function exited(child) {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => child.once('exit', resolve));
}

async function waitExit(child, ms) {
    let timer;
    const timedOut = await Promise.race([
        exited(child).then(() => false),
        new Promise((resolve) => {
            timer = setTimeout(() => resolve(true), ms);
        }),
    ]);
    clearTimeout(timer);
    return !timedOut;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = http.createServer();
        srv.on('error', reject);
        srv.listen({ host: HOST, port: 0, exclusive: true }, () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function get(url, timeoutMs = 2000) {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
    });
}

// ---------------------------------------------------------------------------------------------
// the origin (origin.mjs, the suite's handlers on 127.0.0.1)

async function startOrigin(port, logDir) {
    const log = fs.openSync(path.join(logDir, 'origin.log'), 'a');
    const child = track(fork(path.join(HERE, 'origin.mjs'), [String(port ?? 0)], {
        stdio: ['ignore', log, log, 'ipc'],
        detached: true,
    }));
    fs.closeSync(log);
    const msg = await new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ error: 'no answer within 10 s' }), 10_000);
        child.once('message', (m) => {
            clearTimeout(timer);
            resolve(m);
        });
        child.once('exit', (code, signal) => {
            clearTimeout(timer);
            resolve({ error: `exited (code ${code}, signal ${signal})` });
        });
    });
    if (msg.error) {
        killGroup(child, 'SIGKILL');
        throw new RunError(`the suite's origin did not start on ${HOST}:${port ?? 0}: ${msg.error} (log: ${logDir}/origin.log)`);
    }
    return {
        port: msg.port,
        async stop() {
            killGroup(child, 'SIGTERM');
            if (!(await waitExit(child, 5000))) killGroup(child, 'SIGKILL');
        },
    };
}

// ---------------------------------------------------------------------------------------------
// kvedge

function kvedgeEnv(port, originPort, dir) {
    return {
        ...process.env,
        CACHE_TESTS_PORT: String(port),
        CACHE_TESTS_ORIGIN: `http://${HOST}:${originPort}/`,
        CACHE_TESTS_DIR: dir,
    };
}

function checkTemplate(opts, originPort, dir) {
    if (!fs.existsSync(opts.kvedge)) throw new RunError(`no kvedge binary at ${opts.kvedge} (build it, or pass --kvedge / set KVEDGE_BIN)`);
    const r = spawnSync(opts.kvedge, ['-t', '-c', opts.config], { env: kvedgeEnv(1, originPort, dir), encoding: 'utf8', cwd: dir });
    if (r.error) throw new RunError(`could not run ${opts.kvedge}: ${r.error.message}`);
    if (r.status !== 0) {
        throw new RunError(`${opts.kvedge} -t does not accept the config template ${path.relative(REPO, opts.config)}` +
            ` (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
    }
}

/** Wait until GET <proxy>/state/<probe> is answered by the suite's origin through the proxy. */
async function waitForwarding(proxyUrl, isAlive, timeoutMs, what) {
    const probe = `${proxyUrl}/state/cache-tests-runner-probe-${process.pid}-${Date.now()}`;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
        const alive = isAlive();
        if (alive !== true) throw new RunError(`${what} ${alive}`);
        try {
            const r = await get(probe);
            if (r.status === 404 && r.body.startsWith('State not found')) return;
            last = `${r.status} ${JSON.stringify(r.body.slice(0, 200))}`;
        } catch (e) {
            last = e.message;
        }
        if (Date.now() >= deadline) {
            throw new RunError(`${what} does not forward to the suite's origin: GET ${probe} -> ${last} ` +
                `(expected the origin's 404 "State not found ...") after ${timeoutMs} ms`);
        }
        await sleep(100);
    }
}

async function startKvedge(opts, originPort, dir) {
    const sanitized = /asan|sanitize/i.test(opts.kvedge) || /^(1|on|yes|true)$/i.test(process.env.KVEDGE_SANITIZE ?? '');
    for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const out = fs.openSync(path.join(dir, 'kvedge.log'), 'a');
        const child = track(spawn(opts.kvedge, ['-c', opts.config], {
            env: kvedgeEnv(port, originPort, dir),
            cwd: dir,
            stdio: ['ignore', out, out],
            detached: true,
        }));
        fs.closeSync(out);
        let spawnError = null;
        child.once('error', (e) => (spawnError = e));
        const url = `http://${HOST}:${port}`;
        const isAlive = () => {
            if (spawnError) return `could not be run: ${spawnError.message}`;
            if (child.exitCode !== null || child.signalCode !== null) {
                return `exited (code ${child.exitCode}, signal ${child.signalCode}) before forwarding; log: ${dir}/kvedge.log\n` +
                    tail(path.join(dir, 'kvedge.log'));
            }
            return true;
        };
        try {
            await waitForwarding(url, isAlive, sanitized ? 60_000 : 20_000, `kvedge (${url})`);
        } catch (e) {
            killGroup(child, 'SIGKILL');
            await exited(child);
            if (attempt < 3 && /address already in use|EADDRINUSE/i.test(readLog(dir))) continue;
            throw e;
        }
        return {
            url,
            /** SIGTERM, then check a clean exit (status 0, no sanitizer report). Returns an error text or ''. */
            async stop() {
                let problem = '';
                if (child.exitCode !== null || child.signalCode !== null) {
                    return `kvedge DIED DURING THE RUN (exit code ${child.exitCode}, signal ${child.signalCode}): every ` +
                        `result after that is meaningless; log: ${dir}/kvedge.log\n${tail(path.join(dir, 'kvedge.log'))}`;
                }
                killGroup(child, 'SIGTERM'); // kvedge stops its embedded redis-server itself
                if (!(await waitExit(child, sanitized ? 60_000 : 20_000))) {
                    killGroup(child, 'SIGKILL');
                    await exited(child);
                    problem = 'kvedge did not exit within the drain time after SIGTERM';
                } else if (child.exitCode !== 0) {
                    problem = `kvedge exited with code ${child.exitCode}, signal ${child.signalCode} after SIGTERM`;
                }
                const log = readLog(dir);
                const marker = SANITIZER_MARKERS.find((m) => log.includes(m));
                if (marker) problem += `${problem ? '; ' : ''}sanitizer report in kvedge's output (${marker})`;
                return problem ? `${problem}; log: ${dir}/kvedge.log\n${tail(path.join(dir, 'kvedge.log'))}` : '';
            },
        };
    }
}

function readLog(dir) {
    try {
        return fs.readFileSync(path.join(dir, 'kvedge.log'), 'utf8');
    } catch {
        return '';
    }
}

function tail(file, lines = 30) {
    try {
        return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
        return '';
    }
}

// ---------------------------------------------------------------------------------------------
// the suite's client

async function runClient(suite, proxyUrl, opts, dir) {
    const env = { ...process.env };
    let args;
    if (opts.id) {
        // one test with the suite's dumps: its own cli.mjs, which reads npm_config_id || npm_package_config_id
        env.npm_config_base = proxyUrl;
        env.npm_config_id = opts.id;
        args = ['--no-warnings', path.join(suite.dir, 'cli.mjs')];
    } else {
        args = ['--no-warnings', path.join(HERE, 'client.mjs'), proxyUrl, ...opts.exclude];
    }
    const child = track(spawn(process.execPath, args, {
        cwd: suite.dir,
        env,
        stdio: ['ignore', opts.id ? 'inherit' : 'pipe', opts.id ? 'inherit' : 'pipe'],
        detached: true,
    }));
    const out = [];
    const err = [];
    child.stdout?.on('data', (c) => out.push(c));
    child.stderr?.on('data', (c) => err.push(c));
    let spawnError = null;
    child.once('error', (e) => (spawnError = e));
    const done = new Promise((resolve) => child.once('close', resolve));
    const finished = await Promise.race([done.then(() => true), sleep(opts.timeoutSec * 1000).then(() => false)]);
    if (!finished) {
        killGroup(child, 'SIGKILL');
        await done;
        throw new RunError(`the suite's client did not finish within ${opts.timeoutSec} s (a request the proxy never answered?)`);
    }
    if (spawnError) throw new RunError(`could not run the suite's client: ${spawnError.message}`);
    if (opts.id) return null;
    const stdout = Buffer.concat(out).toString('utf8');
    const stderr = Buffer.concat(err).toString('utf8');
    fs.writeFileSync(path.join(dir, 'client.stderr.log'), stderr);
    if (child.exitCode !== 0) throw new RunError(`the suite's client exited with ${child.exitCode ?? child.signalCode}:\n${stderr}`);
    let results;
    try {
        results = JSON.parse(stdout);
    } catch (e) {
        throw new RunError(`the suite's client printed no results (${e.message}):\n${stderr || stdout.slice(0, 2000)}`);
    }
    if (Object.keys(results).length === 0) throw new RunError(`the suite's client returned no results:\n${stderr}`);
    return results;
}

// ---------------------------------------------------------------------------------------------
// report

function pad(s, n) {
    return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function printReport(scored, opts) {
    const r = scored.required;
    const o = scored.optimal;
    const c = scored.check;
    const notCounted = r.total - r.passed - r.failed;
    console.log(`required tests (${r.total} run): ${r.passed} passed, ${r.failed} failed, ${notCounted} not counted ` +
        `(dependency failed ${r.dependency}, setup failed ${r.setup}, retried ${r.retry}, harness ${r.harness}, untested ${r.untested})`);
    console.log(`optimal tests (${o.total}): ${o.passed} passed, ${o.warn} warned, ${o.total - o.passed - o.warn} not counted; ` +
        `checks (${c.total}): ${c.passed} yes, ${c.no} no, ${c.total - c.passed - c.no} not counted`);
    if (scored.browserOnlyRequired) {
        console.log(`(${scored.browserOnlyRequired} more required tests are browser-only: the CLI does not run them, ` +
            `cache-tests.fyi shows them as untested for proxies)`);
    }
    const show = (title, list) => {
        if (list.length === 0) return;
        console.log(`\n${title}:`);
        const width = Math.min(48, Math.max(...list.map((e) => e.id.length)) + 2);
        for (const e of list) console.log(`  ${pad(e.id, width - 2)}  ${e.reason}`);
    };
    const req = scored.entries.filter((e) => e.kind === 'required');
    show('required tests that FAILED', req.filter((e) => e.outcome === 'fail'));
    show('required tests not counted (their own setup failed, or a dependency did not pass)',
        req.filter((e) => !['pass', 'fail'].includes(e.outcome)));
    if (opts.all) {
        show('optimal tests that warned', scored.entries.filter((e) => e.kind === 'optimal' && e.outcome === 'warn'));
        show('checks that said no', scored.entries.filter((e) => e.kind === 'check' && e.outcome === 'no'));
    }
}

function judge(scored, opts, suite) {
    if (opts.knownFailures === null) {
        console.log('\nknown failures: none given, not judged (report only)');
        return 0;
    }
    const relCwd = path.relative(process.cwd(), opts.knownFailures);
    const rel = relCwd && !relCwd.startsWith('..') ? relCwd : opts.knownFailures;
    let text;
    try {
        text = fs.readFileSync(opts.knownFailures, 'utf8');
    } catch (e) {
        throw new RunError(`cannot read the known-failures list ${opts.knownFailures}: ${e.message}`);
    }
    const { known, errors } = parseKnownFailures(text, rel);
    const cmp = compareKnown(scored, known);
    const problems = [...errors];
    for (const e of cmp.unexpected) problems.push(`NOT ON THE LIST: ${e.id} (${e.outcome}): ${e.reason}`);
    for (const e of cmp.nowPassing) problems.push(`NOW PASSES, remove it from the list: ${e.id} (listed: ${known.get(e.id).reason})`);
    for (const id of cmp.notRequired) {
        const what = suite.byId.has(id) ? `a ${suite.byId.get(id).test.kind} test, not a required one` : `not a test of http-cache-tests ${suite.version}`;
        problems.push(`${rel}:${known.get(id).line}: ${id} is ${what}`);
    }
    console.log(`\nknown failures (${rel}): ${known.size} listed`);
    if (problems.length === 0) {
        console.log('conformance: OK, the run matches the known-failures list');
        return 0;
    }
    for (const p of problems) console.log(`  ${p}`);
    console.log(`conformance: FAILED, ${problems.length} difference(s) from ${rel}`);
    return 1;
}

// ---------------------------------------------------------------------------------------------

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    let suite;
    try {
        suite = await loadSuite();
    } catch (e) {
        throw new RunError(`cannot load the http-cache-tests package (${e.message}): run 'npm ci' in ${REPO}`);
    }
    for (const id of [...opts.exclude, ...(opts.id ? [opts.id] : [])]) {
        if (!suite.byId.has(id)) usageError(`${id} is not a test of http-cache-tests ${suite.version}`);
    }
    const dir = fs.mkdtempSync(path.join(process.env.KVEDGE_TEST_TMP || os.tmpdir(), 'cache-tests-'));
    let keepDir = !!process.env.KVEDGE_KEEP_TMP;
    let origin;
    let kvedge;
    let status = 2;
    const started = Date.now();
    try {
        origin = await startOrigin(opts.originPort, dir);
        let proxyUrl = opts.proxyUrl;
        let target;
        if (opts.direct) {
            proxyUrl = `http://${HOST}:${origin.port}`;
            target = 'the origin directly (no proxy)';
        } else if (proxyUrl) {
            target = `the proxy at ${proxyUrl}`;
            await waitForwarding(proxyUrl, () => true, 5000, target);
        } else {
            checkTemplate(opts, origin.port, dir);
            kvedge = await startKvedge(opts, origin.port, dir);
            proxyUrl = kvedge.url;
            target = `kvedge ${path.relative(REPO, opts.kvedge)} with ${path.relative(REPO, opts.config)} at ${proxyUrl}`;
        }
        console.log(`cache-tests: http-cache-tests ${suite.version} against ${target}, origin ${HOST}:${origin.port}`);
        const results = await runClient(suite, proxyUrl, opts, dir);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        if (opts.id) {
            status = 0;
        } else {
            const scored = score(suite, results);
            console.log(`cache-tests: ${Object.keys(results).length} results in ${seconds} s\n`);
            printReport(scored, opts);
            if (opts.resultsFile) {
                fs.writeFileSync(opts.resultsFile, `${JSON.stringify({
                    suite: `http-cache-tests@${suite.version}`,
                    target,
                    date: new Date().toISOString(),
                    seconds: Number(seconds),
                    required: scored.required,
                    optimal: scored.optimal,
                    check: scored.check,
                    outcomes: Object.fromEntries(scored.entries.map((e) => [e.id, { kind: e.kind, outcome: e.outcome, reason: e.reason || undefined }])),
                    results,
                }, null, 2)}\n`);
                console.log(`\nresults written to ${opts.resultsFile}`);
            }
            if (opts.writeKnown) {
                fs.writeFileSync(opts.writeKnown, knownFailuresText(scored,
                    `Required cache-tests (http-cache-tests ${suite.version}) that did not pass against ${target}.\n` +
                    'Generated by run.mjs --write-known-failures: replace each message by the reason it fails.'));
                console.log(`\ndraft known-failures list written to ${opts.writeKnown}`);
            }
            status = judge(scored, opts, suite);
            if (kvedge) {
                const problem = await kvedge.stop();
                kvedge = null;
                if (problem) {
                    console.log(`\ncache-tests: ${problem}`);
                    status = 2;
                }
            }
            console.log(`required: ${scored.required.passed} passed, ${scored.required.failed} failed`);
        }
    } catch (e) {
        keepDir = true;
        if (!(e instanceof RunError)) throw e;
        console.error(`cache-tests: ${e.message}`);
        status = 2;
    } finally {
        if (kvedge) {
            const problem = await kvedge.stop();
            if (problem) {
                console.error(`cache-tests: ${problem}`);
                status = 2;
            }
        }
        await origin?.stop();
        if (status !== 0) keepDir = true;
        if (keepDir) console.error(`cache-tests: logs kept in ${dir}`);
        else fs.rmSync(dir, { recursive: true, force: true });
    }
    return status;
}

main().then(
    (status) => process.exit(status),
    (e) => {
        console.error(e instanceof RunError ? `cache-tests: ${e.message}` : e);
        process.exit(2);
    },
);
