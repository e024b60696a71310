// Config page: the running configuration (secrets redacted by the server) and the check of a pasted configuration.
'use strict';
(() => {
    const { $, api } = kve;
    kve.page('config', {
        title: 'Config',
        async show() {
            $('config-text').textContent = JSON.stringify(await api('GET', 'api/config'), null, 2);
        },
    });
    document.addEventListener('DOMContentLoaded', () =>
        $('check').addEventListener('click', async () => {
            const r = await api('POST', 'api/check', $('check-text').value);
            $('check-result').textContent = (r.valid ? 'valid\n' : 'invalid\n') + r.output;
        }));
})();
