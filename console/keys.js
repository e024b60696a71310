// Keys page: not built yet (issue 13). It registers with kve.page('keys', ...) and owns <section id="keys">.
'use strict';
