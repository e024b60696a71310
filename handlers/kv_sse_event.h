/* SPDX-License-Identifier: MIT */
/*
 * Writing server-sent events (the text/event-stream format of the HTML standard) into a buffer. An event
 * is `data: <line>` lines ended by a blank line. A reader ends a line at CRLF, at a lone LF and at a lone
 * CR, so any of them inside a value would end the `data:` line early, and two in a row would end the
 * event and let the rest of the value forge fields and events of its own. Values therefore never reach
 * the output unsplit: each line end in a value (CRLF counts as one) becomes a new `data: ` line, which a
 * reader joins back with LF. The reader sees the value with every line end turned into LF; nothing else
 * changes, and no value can end an event or start a field.
 */
#ifndef KVE_HANDLERS_KV_SSE_EVENT_H
#define KVE_HANDLERS_KV_SSE_EVENT_H

#include <stddef.h>
#include "proxy/buf.h"

/** Starts an event (`data: `). */
void kve_sse_event_begin(kve_buf_t *out);
/** Appends `len` bytes of a value (any bytes) to the event's data, splitting it at every CRLF, CR and LF. */
void kve_sse_event_data(kve_buf_t *out, const char *text, size_t len);
/** Ends the event (the line end and the blank line). */
void kve_sse_event_end(kve_buf_t *out);

#endif
