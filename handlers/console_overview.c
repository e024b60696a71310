/* SPDX-License-Identifier: MIT */
/* The overview page's API: the history (see console_overview.h). */
#include "handlers/console_overview.h"
#include "handlers/console_history.h"
#include "handlers/console_parse.h"

#include <string.h>

/* the `after` query parameter: 0 and `*after` (0 when absent), or -1 when it is not a decimal number that fits */
static int parse_after(h2o_req_t *req, uint64_t *after)
{
    char value[24];
    long len;

    *after = 0;
    if (req->query_at == SIZE_MAX)
        return 0;
    const char *q = req->path.base + req->query_at + 1;
    size_t qlen = req->path.len - req->query_at - 1;
    if ((len = kve_console_form_value(q, qlen, "after", value, sizeof(value))) < 0)
        return memmem(q, qlen, "after", 5) == NULL ? 0 : -1; /* absent: 0; twice, bad escape or too long: refused */
    if (len == 0 || len > 19 || strspn(value, "0123456789") != (size_t)len)
        return -1;
    for (long i = 0; i != len; ++i)
        *after = *after * 10 + (uint64_t)(value[i] - '0');
    return 0;
}

void kve_console_api_history(kve_console_call_t *call)
{
    kve_buf_t buf = KVE_BUF_INIT;
    uint64_t after;

    if (parse_after(call->req, &after) != 0) {
        kve_console_send_error(call->req, 400, "after: expected a sequence number");
        return;
    }
    kve_console_history_render(&buf, after);
    kve_console_send_json(call->req, 200, buf.base, buf.len);
    kve_buf_dispose(&buf);
}
