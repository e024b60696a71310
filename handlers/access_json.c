/* SPDX-License-Identifier: MIT */
/* The JSON access log line (see access_json.h). */
#include "handlers/access_json.h"
#include "proxy/common.h"
#include "proxy/json.h"
#include "proxy/log.h"

#include <inttypes.h>

/* ,"name":"value" or ,"name":null */
static void put_string(kve_buf_t *out, const char *name, h2o_iovec_t v)
{
    kve_buf_printf(out, ",\"%s\":", name);
    if (v.base == NULL)
        kve_buf_append(out, KVE_STRLIT("null"));
    else
        kve_json_string(out, v.base, KVE_MIN(v.len, (size_t)KVE_ACCESS_JSON_MAX_FIELD));
}

static const char *protocol(int version)
{
    return version >= 0x200 ? "HTTP/2" : version == 0x101 ? "HTTP/1.1" : version == 0x100 ? "HTTP/1.0" : "HTTP/0.9";
}

void kve_access_json_format(kve_buf_t *out, const kve_access_fields_t *f)
{
    char stamp[KVE_LOG_TIME_LEN + 1];

    kve_log_format_time(stamp, &f->time);
    kve_buf_printf(out, "{\"time\":\"%s\"", stamp);
    put_string(out, "remote_addr", f->remote_addr);
    put_string(out, "method", f->method);
    put_string(out, "host", f->host);
    put_string(out, "path", f->path);
    kve_buf_printf(out, ",\"protocol\":\"%s\",\"status\":%d,\"bytes_sent\":%" PRIu64 ",\"duration_ms\":%" PRIu64 ".%03u",
                   protocol(f->version), f->status, f->bytes_sent, f->duration_us / 1000, (unsigned)(f->duration_us % 1000));
    put_string(out, "route", f->route);
    put_string(out, "cache", f->cache);
    put_string(out, "user_agent", f->user_agent);
    put_string(out, "referer", f->referer);
    put_string(out, "request_id", f->request_id);
    kve_buf_append(out, "}\n", 2);
}
