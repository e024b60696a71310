/* SPDX-License-Identifier: MIT */
/* Tests for server-sent event output (handlers/kv_sse_event.c): no value can end an event (issue 6). */
#include "test.h"
#include "handlers/kv_sse_event.h"
#include "proxy/common.h"

/* one event whose data is `in` (`len` bytes), compared with `want` (`wantlen` bytes) */
static void check_event(const char *in, size_t len, const char *want, size_t wantlen)
{
    kve_buf_t out = KVE_BUF_INIT;
    kve_sse_event_begin(&out);
    kve_sse_event_data(&out, in, len);
    kve_sse_event_end(&out);
    CHECK_EQ_MEM(out.base, out.len, want, wantlen);
    kve_buf_dispose(&out);
}

#define CHECK_EVENT(in, want) check_event(KVE_STRLIT(in), KVE_STRLIT(want))

TEST(line_ends_split)
{
    CHECK_EVENT("", "data: \n\n");
    CHECK_EVENT("plain", "data: plain\n\n");
    CHECK_EVENT("a\nb", "data: a\ndata: b\n\n");
    CHECK_EVENT("a\rb", "data: a\ndata: b\n\n");           /* a lone CR ends a line too */
    CHECK_EVENT("a\r\nb", "data: a\ndata: b\n\n");         /* CRLF is one line end */
    CHECK_EVENT("a\n\rb", "data: a\ndata: \ndata: b\n\n"); /* LF CR is two */
    CHECK_EVENT("a\r\rb", "data: a\ndata: \ndata: b\n\n");
    CHECK_EVENT("x\r", "data: x\ndata: \n\n");
    CHECK_EVENT("\r\n", "data: \ndata: \n\n");
    CHECK_EVENT("a\n\ndata: forged\n\n", "data: a\ndata: \ndata: data: forged\ndata: \ndata: \n\n");
    CHECK_EVENT("nul\0byte", "data: nul\0byte\n\n");
}

TEST(parts_joined)
{
    kve_buf_t out = KVE_BUF_INIT;
    const char *want = "data: message,ch\ndata: an,pay\ndata: load\n\n";
    kve_sse_event_begin(&out);
    kve_sse_event_data(&out, KVE_STRLIT("message,"));
    kve_sse_event_data(&out, KVE_STRLIT("ch\ran"));
    kve_sse_event_data(&out, KVE_STRLIT(","));
    kve_sse_event_data(&out, KVE_STRLIT("pay\r\nload"));
    kve_sse_event_end(&out);
    CHECK_EQ_MEM(out.base, out.len, want, strlen(want));
    kve_buf_dispose(&out);
}

void kve_suite_kv_sse_event(void)
{
    RUN(line_ends_split);
    RUN(parts_joined);
}
