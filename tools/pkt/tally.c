/*
 * tally.c: per-folder and per-suite counts of a run, and the pass rate
 * (tally.h).
 */
#include <stdlib.h>
#include <string.h>

#include "pkt/tally.h"

void pkt_tally_init(struct pkt_tally *t, enum pkt_mode mode)
{
    memset(t, 0, sizeof(*t));
    t->mode = mode;
}

/* The row called name[0..len), created in first-seen order. NULL when
 * memory runs out (the row then goes uncounted; the total still counts). */
static struct pkt_tally_row *row(struct pkt_tally_row **rows, size_t *n, size_t *cap,
                                 const char *name, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*rows)[i].name) == len && !strncmp((*rows)[i].name, name, len))
            return &(*rows)[i];
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct pkt_tally_row *r = realloc(*rows, c * sizeof(*r));
        if (!r) return NULL;
        *rows = r;
        *cap = c;
    }
    struct pkt_tally_row *r = &(*rows)[*n];
    memset(r, 0, sizeof(*r));
    r->name = strndup(name, len);
    if (!r->name) return NULL;
    (*n)++;
    return r;
}

static void count(struct pkt_tally_row *r, enum pkt_status st, bool expected_failure)
{
    if (!r) return;
    switch (st) {
    case PKT_STATUS_PASS:
        r->pass++;
        break;
    case PKT_STATUS_SKIP:
        r->skip++;
        break;
    case PKT_STATUS_FAIL:
        if (expected_failure)
            r->xfail++;
        else
            r->fail++;
        break;
    case PKT_STATUS_ERROR:
        r->error++;
        break;
    }
}

void pkt_tally_add(struct pkt_tally *t, const char *script, enum pkt_status st,
                   bool expected_failure)
{
    const char *slash = strrchr(script, '/');
    size_t folder_len = slash ? (size_t)(slash - script) : 1;
    const char *folder = slash ? script : ".";
    const char *first = strchr(script, '/');
    size_t suite_len = first ? (size_t)(first - script) : 1;
    const char *suite = first ? script : ".";
    count(row(&t->folders, &t->nfolders, &t->cap_folders, folder, folder_len), st,
          expected_failure);
    count(row(&t->suites, &t->nsuites, &t->cap_suites, suite, suite_len), st, expected_failure);
    count(&t->all, st, expected_failure);
}

static unsigned total(const struct pkt_tally_row *r)
{
    return r->pass + r->xfail + r->skip + r->fail + r->error;
}

static void print_row(FILE *f, const struct pkt_tally_row *r, const char *name, bool rate)
{
    fprintf(f, "  %-56s %5u %5u %5u %5u", name, r->pass, r->xfail, r->skip, r->fail + r->error);
    unsigned n = total(r);
    if (rate && n) fprintf(f, "   %u/%u = %.1f%%", r->pass, n, 100.0 * r->pass / n);
    fputc('\n', f);
}

void pkt_tally_print(FILE *f, const struct pkt_tally *t)
{
    const char *mode = pkt_mode_name(t->mode);
    fprintf(f, "%s mode, per folder%*s  pass xfail  skip  fail\n", mode, (int)(43 - strlen(mode)),
            "");
    for (size_t i = 0; i < t->nfolders; i++)
        print_row(f, &t->folders[i], t->folders[i].name, false);
    fprintf(f, "%s mode, per suite%*s  pass xfail  skip  fail   pass rate\n", mode,
            (int)(44 - strlen(mode)), "");
    for (size_t i = 0; i < t->nsuites; i++) print_row(f, &t->suites[i], t->suites[i].name, true);
    print_row(f, &t->all, "all", true);
}

void pkt_tally_free(struct pkt_tally *t)
{
    for (size_t i = 0; i < t->nfolders; i++) free(t->folders[i].name);
    for (size_t i = 0; i < t->nsuites; i++) free(t->suites[i].name);
    free(t->folders);
    free(t->suites);
    memset(t, 0, sizeof(*t));
}
