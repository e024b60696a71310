// Sessions page: not built yet (issue 13). It registers with kve.page('sessions', ...) and owns <section id="sessions">.
'use strict';
