// Sessions page: the active sessions and the session routes' counters (api/sessions, polled every 2 s while shown), a user's sessions
// (api/sessions/list) and revoking one or all of them (api/sessions/revoke, revoke-all; asked for confirmation first,
// hidden from a read-only session, which the server refuses anyway). Everything from the server is shown as text.
'use strict';
(() => {
    const { $, api, el } = kve;
    const MAX_USER_BYTES = 256; // the server's limit (a user id of X-Session-Login), in UTF-8 bytes
    let previous = null; // the last summary and when it came, for requests with a session per second
    let timer = null;
    let shownUser = null; // whose sessions the table shows
    let pending = null; // the revoke waiting for confirmation: {path, body, what}

    const when = (ms) => (ms ? new Date(ms).toLocaleString() : '');
    const status = (text, bad) => {
        $('sessions-status').textContent = text;
        $('sessions-status').classList.toggle('down', !!bad);
    };

    async function refreshSummary() {
        const s = await api('GET', 'api/sessions');
        const now = Date.now();
        const tbody = $('sessions-groups').tBodies[0];
        tbody.replaceChildren();
        for (const g of s.groups) {
            const key = `${g.store} ${g.routes.join(' ')}`;
            const before = previous?.s.groups.find((p) => `${p.store} ${p.routes.join(' ')}` === key);
            const rate = before && now > previous.at ? ((g.events.loaded - before.events.loaded) * 1000 / (now - previous.at)).toFixed(1) : '';
            const row = el('tr');
            for (const v of [g.routes.join(', '), g.store, g.active.logged_in, g.active.anonymous, g.events.created, g.events.loaded, rate, g.events.expired,
                g.events.destroyed, g.events.unavailable])
                row.append(el('td', null, v));
            tbody.append(row);
        }
        if (s.groups.length === 0) tbody.append(el('tr', null, el('td', { colSpan: 10 }, 'no route has sessions')));
        previous = { s, at: now };
    }

    function renderList(user, sessions) {
        const tbody = $('sessions-list').tBodies[0];
        tbody.replaceChildren();
        for (const x of sessions) {
            const revoke = el('button', { type: 'button', className: 'write' }, 'Revoke');
            revoke.dataset.pid = x.pid;
            revoke.addEventListener('click', () => ask('revoke', { user, pid: x.pid }, `Revoke session ${x.pid}?`));
            const row = el('tr');
            for (const v of [x.pid, when(x.created), when(x.last_seen), when(x.auth_time), x.ua, x.ip_prefix, x.routes.join(', ')])
                row.append(el('td', null, v));
            row.append(el('td', null, revoke));
            tbody.append(row);
        }
        $('sessions-list').hidden = false;
        $('sessions-revoke-all').hidden = sessions.length === 0;
        status(sessions.length === 0 ? 'no live session for this user' : `${sessions.length} live session(s)`);
    }

    async function listUser(user) {
        if (user.length === 0 || new TextEncoder().encode(user).length > MAX_USER_BYTES) {
            status(`a user id is 1 to ${MAX_USER_BYTES} bytes (UTF-8)`, true);
            return;
        }
        const r = await api('POST', 'api/sessions/list', JSON.stringify({ user }), 'application/json');
        shownUser = user;
        renderList(user, r.sessions);
    }

    function ask(what, body, text) {
        pending = { path: `api/sessions/${what}`, body };
        $('sessions-confirm-text').textContent = text;
        $('sessions-confirm').hidden = false;
        $('sessions-confirm-yes').focus();
    }

    async function confirmed() {
        const p = pending;
        pending = null;
        $('sessions-confirm').hidden = true;
        if (!p) return;
        const r = await api('POST', p.path, JSON.stringify(p.body), 'application/json');
        await listUser(p.body.user);
        status(`revoked ${r.revoked} session(s); ${$('sessions-status').textContent}`);
        await refreshSummary(); // the revocations show at once in "ended"
    }

    // a failed call shows the server's message (403 read-only, 503 store down, ...) rather than only logging it
    const shown = (f) => () => f().catch((e) => (e.message === 'login' ? kve.fail(e) : status(e.message, true)));

    document.addEventListener('DOMContentLoaded', () => {
        $('sessions-user-form').addEventListener('submit', (ev) => {
            ev.preventDefault();
            shown(() => listUser($('sessions-user').value))();
        });
        $('sessions-revoke-all').addEventListener('click', () => {
            if (shownUser !== null) ask('revoke-all', { user: shownUser }, 'Revoke every session of this user?');
        });
        $('sessions-confirm-yes').addEventListener('click', shown(confirmed));
        $('sessions-confirm-no').addEventListener('click', () => {
            pending = null;
            $('sessions-confirm').hidden = true;
        });
    });

    kve.page('sessions', {
        title: 'Sessions',
        async show() {
            await refreshSummary();
            clearInterval(timer);
            timer = setInterval(() => refreshSummary().catch(kve.fail), 2000);
        },
        hide() {
            clearInterval(timer);
            timer = null;
        },
    });
})();
