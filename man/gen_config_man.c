/* SPDX-License-Identifier: MIT */
/*
 * Build-time generator of kvedge.yaml(5): copies the hand-written template, replacing the line "@DIRECTIVES@" with
 * the directive tables in roff (kve_config_print_man, the tables `kvedge --help-config` prints) and "@VERSION@" with
 * the version. Run by CMake (man/CMakeLists.txt); never installed.
 *
 *   kve_gen_config_man TEMPLATE OUTPUT VERSION
 */
#include "conf/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_with_version(FILE *out, const char *line, const char *version)
{
    const char *at;
    while ((at = strstr(line, "@VERSION@")) != NULL) {
        fwrite(line, 1, (size_t)(at - line), out);
        fputs(version, out);
        line = at + strlen("@VERSION@");
    }
    fputs(line, out);
}

int main(int argc, char **argv)
{
    char *line = NULL, tmp[4096];
    size_t cap = 0;
    FILE *in, *out;
    int status = 1, found = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s TEMPLATE OUTPUT VERSION\n", argv[0]);
        return 2;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]) >= (int)sizeof(tmp)) {
        fprintf(stderr, "%s: output path too long\n", argv[0]);
        return 1;
    }
    if ((in = fopen(argv[1], "r")) == NULL)
        return perror(argv[1]), 1;
    if ((out = fopen(tmp, "w")) == NULL) {
        perror(tmp);
        fclose(in);
        return 1;
    }
    while (getline(&line, &cap, in) != -1) {
        if (strcmp(line, "@DIRECTIVES@\n") == 0) {
            kve_config_print_man(out);
            found = 1;
        } else {
            put_with_version(out, line, argv[3]);
        }
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0)
        perror(tmp);
    else if (!found)
        fprintf(stderr, "%s: no @DIRECTIVES@ line in %s\n", argv[0], argv[1]);
    else if (rename(tmp, argv[2]) != 0)
        perror(argv[2]);
    else
        status = 0;
    if (status != 0)
        remove(tmp);
    return status;
}
