/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1 request framing that RFC 9112 lets a server refuse, and h2o 2.2.5 accepts: several Content-Length
 * headers (h2o uses the first), Content-Length together with Transfer-Encoding (h2o uses the chunked
 * coding and keeps the connection), several Transfer-Encoding headers (h2o uses the last), and obsolete
 * line folding (h2o keeps a continuation line as a header with an empty name). Behind another proxy that
 * frames such a request differently, each of these is a way to smuggle a request; kvedge answers them 400
 * and closes the connection (the limit check, limits.h, calls this first).
 *
 * h2o copies neither Content-Length nor Transfer-Encoding into req->headers, so the duplicates are not
 * visible to a handler; but for HTTP/1 the raw request head is still at the start of the socket's input
 * buffer while the request is being handled (h2o consumes it only after the response; proxy/h2o_private.h
 * kve_h2o_http1_raw_head finds it), so for requests with a body its header lines are scanned again here (h2o's picohttpparser
 * accepted their syntax already). Requests without a body only get the cheap scan of req->headers for folded lines.
 */
#ifndef KVE_HANDLERS_FRAMING_H
#define KVE_HANDLERS_FRAMING_H

#include "h2o.h"

/** NULL if `req`'s framing is acceptable, else the reason to answer 400 and close (a static string). */
const char *kve_framing_check(h2o_req_t *req);

#endif
