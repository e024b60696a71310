/* SPDX-License-Identifier: MIT */
/*
 * Test-only driver of the core's command metadata (proxy/kv_route.h), for
 * tests/integration/platform_keys.test.mjs, which compares its answers with a real redis-server's COMMAND
 * GETKEYS and CLUSTER KEYSLOT. Reads one command per line on stdin, each argument hex-encoded and separated
 * by one space, "-" for an empty one (so that any bytes can be sent), and prints one JSON line per
 * command: {"kind":K,"slot":S,"keys":[positions],"keys_nk":[positions with KVE_CMD_KEYS_NOT_KEYS]}, or
 * {"invalid":true} when kve_cmd_route() refuses the name. Never installed, not part of kvedge.
 */
#include "proxy/kv_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 100000

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* decodes the hex words of `line` in place; returns argc, or 0 for a malformed line */
static size_t parse_line(char *line, const char **argv, size_t *argvlen)
{
    size_t argc = 0;
    char *p = line;

    while (*p != '\0' && *p != '\n' && argc != MAX_ARGS) {
        char *word = p, *out = p;
        if (*p == '-')
            ++p; /* an empty argument */
        while (*p != ' ' && *p != '\0' && *p != '\n') {
            int hi = hex_value(p[0]), lo = hi < 0 ? -1 : hex_value(p[1]);
            if (lo < 0)
                return 0;
            *out++ = (char)(hi << 4 | lo);
            p += 2;
        }
        argv[argc] = word;
        argvlen[argc++] = (size_t)(out - word);
        if (*p == ' ')
            ++p;
    }
    return argc;
}

static void print_keys(const char *label, const kve_cmd_keys_t *keys)
{
    size_t r, i, n = 0;

    printf(",\"%s\":[", label);
    for (r = 0; r != keys->nranges; ++r)
        for (i = keys->ranges[r].first; i <= keys->ranges[r].last; i += keys->ranges[r].step)
            printf("%s%zu", n++ == 0 ? "" : ",", i);
    printf("]");
}

int main(void)
{
    const char **argv = malloc(sizeof(*argv) * MAX_ARGS);
    size_t *argvlen = malloc(sizeof(*argvlen) * MAX_ARGS), cap = 0, argc;
    char *line = NULL;
    kve_cmd_route_t route, with_nk;

    kve_cmd_init();
    while (getline(&line, &cap, stdin) > 0) {
        if ((argc = parse_line(line, argv, argvlen)) == 0) {
            printf("{\"error\":\"malformed line\"}\n");
            continue;
        }
        if (kve_cmd_route(argc, argv, argvlen, 0, &route) != 0 ||
            kve_cmd_route(argc, argv, argvlen, KVE_CMD_KEYS_NOT_KEYS, &with_nk) != 0) {
            printf("{\"invalid\":true}\n");
            continue;
        }
        printf("{\"kind\":%u,\"slot\":%d", route.kind, with_nk.slot);
        print_keys("keys", &route.keys);
        print_keys("keys_nk", &with_nk.keys);
        printf("}\n");
    }
    fflush(stdout);
    free(line);
    free(argv);
    free(argvlen);
    return 0;
}
