// Cache page: not built yet (issue 13). It registers with kve.page('cache', ...) and owns <section id="cache">.
'use strict';
