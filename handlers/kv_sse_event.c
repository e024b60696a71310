/* SPDX-License-Identifier: MIT */
/* Server-sent events with every line end in a value split into its own data line (see kv_sse_event.h). */
#include "handlers/kv_sse_event.h"

void kve_sse_event_begin(kve_buf_t *out)
{
    kve_buf_append(out, "data: ", 6);
}

void kve_sse_event_data(kve_buf_t *out, const char *text, size_t len)
{
    size_t i, start = 0;

    for (i = 0; i != len; ++i) {
        if (text[i] != '\r' && text[i] != '\n')
            continue;
        kve_buf_append(out, text + start, i - start);
        kve_buf_append(out, "\ndata: ", 7);
        if (text[i] == '\r' && i + 1 != len && text[i + 1] == '\n')
            ++i; /* CRLF is one line end */
        start = i + 1;
    }
    kve_buf_append(out, text + start, len - start);
}

void kve_sse_event_end(kve_buf_t *out)
{
    kve_buf_append(out, "\n\n", 2);
}
