/* SPDX-License-Identifier: MIT */
/*
 * The overview page's own API (issue 13; docs/console.md "Overview"): GET <path>/api/history[?after=SEQ], the
 * history of console_history.h as JSON (only the points after SEQ: the page asks for the new ones on every poll).
 * api/overview itself is in console_api.c.
 */
#ifndef KVE_HANDLERS_CONSOLE_OVERVIEW_H
#define KVE_HANDLERS_CONSOLE_OVERVIEW_H

#include "handlers/console_routes.h"

/** GET api/history: 200 and the history; 400 when `after` is given but not a decimal number. */
void kve_console_api_history(kve_console_call_t *call);

#endif
