// kvedge console: a few DOM updates over the JSON APIs (no framework; the CSP allows no inline script).
'use strict';
let csrf = '';
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
    const headers = method === 'GET' ? {} : { 'X-Console-CSRF': csrf, 'Content-Type': 'text/plain' };
    const res = await fetch(path, { method, headers, body, credentials: 'same-origin' });
    if (res.status === 401) throw new Error('login');
    return res.json();
}

function cell(row, text) {
    const td = document.createElement('td');
    td.textContent = text;
    row.appendChild(td);
}

let previous = null; // the last overview, for requests per second

async function refreshOverview() {
    const o = await api('GET', 'api/overview');
    const tbody = $('routes').tBodies[0];
    tbody.replaceChildren();
    for (const r of o.routes) {
        const row = tbody.insertRow();
        const before = previous?.routes.find((p) => p.name === r.name);
        const rate = before && o.now > previous.now ? ((r.requests - before.requests) / (o.now - previous.now)).toFixed(1) : '';
        for (const v of [r.name, r.requests, rate, r.status['2xx'], r.status['4xx'], r.status['5xx'], r.p50_ms, r.p99_ms,
            r.cache ? r.cache.hits : '', r.cache ? r.cache.misses : '', r.cache ? r.cache.stored_bytes : ''])
            cell(row, v ?? '');
    }
    const ul = $('stores');
    ul.replaceChildren();
    for (const s of o.stores)
        for (const l of s.links) {
            const li = document.createElement('li');
            li.textContent = `${s.name} thread ${l.thread}: ${l.state}`;
            if (l.state !== 'up') li.className = 'down';
            ul.appendChild(li);
        }
    previous = o;
}

function show(page) {
    for (const id of ['login', 'overview', 'config']) $(id).hidden = id !== page;
}

async function route() {
    const page = location.hash === '#config' ? 'config' : 'overview';
    show(page);
    if (page === 'config') $('config-text').textContent = JSON.stringify(await api('GET', 'api/config'), null, 2);
}

async function start() {
    try {
        const s = await api('GET', 'api/session');
        csrf = s.csrf;
        $('who').textContent = s.read_only ? 'read-only session' : 'read-write session';
        $('nav').hidden = false;
        await route();
        await refreshOverview();
        setInterval(() => refreshOverview().catch(() => location.reload()), 2000);
    } catch {
        show('login');
    }
}

window.addEventListener('hashchange', () => route().catch(() => show('login')));
$('logout').addEventListener('click', async () => {
    await api('POST', 'logout');
    location.reload();
});
$('check').addEventListener('click', async () => {
    const r = await api('POST', 'api/check', $('check-text').value);
    $('check-result').textContent = (r.valid ? 'valid\n' : 'invalid\n') + r.output;
});
start();
