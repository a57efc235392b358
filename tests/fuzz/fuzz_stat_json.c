/*
 * fuzz_stat_json: arbitrary bytes as the control socket's answer, into the
 * JSON reader and `ustack stat`'s document reader.
 *
 * No input may crash, read out of bounds or leak. A document the reader
 * accepts must survive the round trip: written again (compact and pretty),
 * it reads back, and both copies print the same table.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "stat.h"

static char *render(const struct stat_snapshot *s, int how)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (how == 0)
        stat_write_table(f, s);
    else
        stat_write_json(f, s, how == 2);
    fclose(f);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    char err[256];
    json_free(json_parse(buf, size, err, sizeof(err)));

    struct stat_snapshot a, b;
    if (stat_read_json(&a, buf, size, err, sizeof(err)) == 0) {
        for (int how = 1; how <= 2; how++) {
            char *doc = render(&a, how);
            if (stat_read_json(&b, doc, strlen(doc), err, sizeof(err)) != 0) __builtin_trap();
            char *ta = render(&a, 0), *tb = render(&b, 0);
            if (strcmp(ta, tb) != 0) __builtin_trap();
            free(ta);
            free(tb);
            free(doc);
            stat_free(&b);
        }
        stat_free(&a);
    }
    free(buf);
    return 0;
}
