/* SPDX-License-Identifier: MIT */
/* Surrogate-Control with device targeting (see cache_surrogate.h). */
#include "handlers/cache_surrogate.h"
#include "proxy/common.h"

#include <string.h>

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* whether the target between `p` and `end` (OWS around it) is kvedge's device token */
static int targets_us(const char *p, const char *end)
{
    while (p != end && is_ows(*p))
        ++p;
    while (end != p && is_ows(end[-1]))
        --end;
    return h2o_lcstris(p, (size_t)(end - p), KVE_STRLIT(KVE_SURROGATE_DEVICE));
}

size_t kve_cc_parse_surrogate_line(kve_cc_t *cc, const char *value, size_t len, int targeted)
{
    const char *p = value, *end = len != 0 ? value + len : value, *e, *semi;
    size_t applied = 0;

    while (p != end) {
        while (p != end && (is_ows(*p) || *p == ','))
            ++p;
        if (p == end)
            break;
        e = kve_cc_element_end(p, end, &semi);
        if (semi == NULL && !targeted) {
            kve_cc_parse(cc, p, (size_t)(e - p));
            ++applied;
        } else if (semi != NULL && targeted && targets_us(semi + 1, e)) {
            kve_cc_parse(cc, p, (size_t)(semi - p));
            ++applied;
        }
        p = e;
    }
    return applied;
}

size_t kve_cc_parse_surrogate(kve_cc_t *cc, const h2o_header_t *headers, size_t num)
{
    size_t applied = 0;
    for (int targeted = 1; targeted >= 0; --targeted)
        for (size_t i = 0; i != num; ++i)
            if (h2o_lcstris(headers[i].name->base, headers[i].name->len, KVE_STRLIT("surrogate-control")))
                applied += kve_cc_parse_surrogate_line(cc, headers[i].value.base, headers[i].value.len, targeted);
    return applied;
}
