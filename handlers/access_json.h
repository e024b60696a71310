/* SPDX-License-Identifier: MIT */
/*
 * The JSON access log line (log.access_log_format: json): one object per request, then "\n". Pure formatting of
 * fields the caller collected (handlers/access.c), so it is tested and fuzzed without a request. Every string is
 * escaped by proxy/json.c (quotes, backslashes, control bytes as \u00XX, invalid UTF-8 as U+FFFD), so a line is
 * valid JSON whatever a client sent; strings longer than KVE_ACCESS_JSON_MAX_FIELD bytes are cut there.
 * The caller redacts secrets before: the line holds exactly the bytes it is given.
 */
#ifndef KVE_HANDLERS_ACCESS_JSON_H
#define KVE_HANDLERS_ACCESS_JSON_H

#include <stdint.h>
#include <sys/time.h>
#include "h2o.h"
#include "proxy/buf.h"

/** longest string value written, in bytes of input */
#define KVE_ACCESS_JSON_MAX_FIELD 4096

/** One request's fields; a string with a NULL base is written as null. All borrowed. */
typedef struct st_kve_access_fields_t {
    struct timeval time; /* when the request began */
    h2o_iovec_t remote_addr;
    h2o_iovec_t method;
    h2o_iovec_t host;
    h2o_iovec_t path; /* with the query */
    int version;      /* h2o's: 0x100 HTTP/1.0, 0x101 HTTP/1.1, 0x200 HTTP/2 */
    int status;
    uint64_t bytes_sent;
    uint64_t duration_us;
    h2o_iovec_t route;
    h2o_iovec_t cache; /* what the HTTP cache did: HIT, STALE, MISS, REVALIDATED, BYPASS, PASS, COALESCED */
    h2o_iovec_t user_agent;
    h2o_iovec_t referer;
    h2o_iovec_t request_id; /* the X-Request-Id field of the request */
} kve_access_fields_t;

/**
 * Appends `f` as {"time":"...","remote_addr":..,"method":..,"host":..,"path":..,"protocol":"HTTP/1.1","status":200,
 * "bytes_sent":..,"duration_ms":1.234,"route":..,"cache":..,"user_agent":..,"referer":..,"request_id":..} and "\n".
 */
void kve_access_json_format(kve_buf_t *out, const kve_access_fields_t *f);

#endif
