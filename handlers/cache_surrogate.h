/* SPDX-License-Identifier: MIT */
/*
 * Surrogate-Control (W3C Edge Architecture 1.0): Cache-Control directives for surrogates (reverse proxies, CDNs),
 * each optionally targeted at one device: `max-age=60;kvedge, no-store;other-cdn`. kvedge advertises its device
 * token upstream with `Surrogate-Capability: kvedge="Surrogate/1.0"` (on requests a cached route forwards), so
 * an origin can target it. Rules:
 * - an element without `;target` applies to every surrogate, one with `;kvedge` (any case) to kvedge; elements
 *   targeted at another device are ignored;
 * - elements targeted at kvedge come first: with the first-occurrence-wins rule of kve_cc_parse(), they beat
 *   untargeted ones ("max-age=5, max-age=60;kvedge" is 60);
 * - a Surrogate-Control field none of whose elements applies to kvedge does not override Cache-Control.
 * Pure; like kve_cc_parse(), `cc` borrows pointers into the values (the no-cache / private field lists).
 */
#ifndef KVE_HANDLERS_CACHE_SURROGATE_H
#define KVE_HANDLERS_CACHE_SURROGATE_H

#include <stddef.h>
#include "h2o.h"
#include "handlers/cache_control.h"

/** kvedge's device token in Surrogate-Control and Surrogate-Capability. */
#define KVE_SURROGATE_DEVICE "kvedge"
/** The Surrogate-Capability field value kvedge adds to the requests it forwards on cached routes. */
#define KVE_SURROGATE_CAPABILITY KVE_SURROGATE_DEVICE "=\"Surrogate/1.0\""

/**
 * Adds the elements of one Surrogate-Control line `value` (`len` bytes) that apply to kvedge to `cc` (targeted
 * ones when `targeted` is non-zero, untargeted ones otherwise). Returns how many elements applied.
 */
size_t kve_cc_parse_surrogate_line(kve_cc_t *cc, const char *value, size_t len, int targeted);

/**
 * Parses every Surrogate-Control line of `headers` (`num`) into `cc` (initialised by the caller): the elements
 * targeted at kvedge first, then the untargeted ones. Returns how many elements applied (0: the field does not
 * speak to kvedge, and Cache-Control applies).
 */
size_t kve_cc_parse_surrogate(kve_cc_t *cc, const h2o_header_t *headers, size_t num);

#endif
