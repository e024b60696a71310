// kvedge console core: the page registry, the API helper, login state and the hash router (no framework; the CSP
// allows no inline script). Each page is one file (overview.js, keys.js, ...) that calls kve.page() and owns its
// <section id="NAME"> in index.html.
'use strict';
const kve = (() => {
    const $ = (id) => document.getElementById(id);
    const pages = []; // {name, title, show(section), hide()} in nav order
    const state = { csrf: '', readOnly: true, current: null };

    // JSON API call below the console path; throws Error('login') on 401, an Error with the server's message otherwise
    async function api(method, path, body, contentType) {
        const headers = method === 'GET' ? {} : { 'X-Console-CSRF': state.csrf, 'Content-Type': contentType || 'text/plain' };
        const res = await fetch(path, { method, headers, body, credentials: 'same-origin' });
        if (res.status === 401) throw new Error('login');
        const json = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
        if (!res.ok) {
            const e = new Error(json.error || `HTTP ${res.status}`);
            e.status = res.status;
            throw e;
        }
        return json;
    }

    // el('td', {className: 'x'}, 'text', child...): a DOM element; strings become text nodes (never HTML)
    function el(tag, props, ...children) {
        const e = document.createElement(tag);
        Object.assign(e, props || {});
        for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
        return e;
    }

    function page(name, def) {
        pages.push({ name, title: def.title || name, show: def.show || (async () => {}), hide: def.hide || (() => {}) });
    }

    function showOnly(id) {
        for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== id;
    }

    async function route() {
        const name = location.hash.slice(1);
        const p = pages.find((x) => x.name === name) || pages[0];
        if (state.current && state.current !== p) state.current.hide();
        state.current = p;
        showOnly(p.name);
        for (const a of $('pages').children) a.classList.toggle('current', a.hash === `#${p.name}`);
        await p.show($(p.name));
    }

    function fail(e) {
        if (e.message === 'login') location.reload();
        else console.error(e);
    }

    async function start() {
        const s = await api('GET', 'api/whoami');
        if (!s.logged_in) {
            showOnly('login');
            return;
        }
        state.csrf = s.csrf;
        state.readOnly = s.read_only;
        document.body.classList.toggle('read-only', s.read_only);
        $('who').textContent = s.read_only ? 'read-only session' : 'read-write session';
        for (const p of pages) $('pages').append(el('a', { href: `#${p.name}` }, p.title), ' ');
        $('nav').hidden = false;
        window.addEventListener('hashchange', () => route().catch(fail));
        $('logout').addEventListener('click', async () => {
            await api('POST', 'logout').catch(() => {});
            location.reload();
        });
        await route().catch(fail);
    }

    document.addEventListener('DOMContentLoaded', () => start().catch((e) => {
        console.error(e);
        showOnly('login');
    }));
    return { $, api, el, page, fail, state };
})();
