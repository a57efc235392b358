/*
 * opts.c: TCP options as bytes. Scripts, injected frames and the stack's
 * frames all keep options in wire form (pkt.h: struct pkt_opts), so there is
 * one encoder and one decoder, and a strict comparison can walk both lists
 * in order.
 */
#include <string.h>

#include "core/util.h"
#include "pkt/pkt.h"

int pkt_opts_next(const struct pkt_opts *o, size_t *off, struct pkt_opt *out)
{
    size_t i = *off;
    if (i >= o->len) return 0;
    memset(out, 0, sizeof(*out));
    out->kind = o->bytes[i];
    out->off = (uint8_t)i;
    if (out->kind == PKT_OPT_EOL || out->kind == PKT_OPT_NOP) {
        out->len = 1;
        *off = i + 1;
        return 1;
    }
    if (i + 1 >= o->len) return -1;
    uint8_t len = o->bytes[i + 1];
    if (len < 2 || i + len > o->len) return -1;
    out->len = len;
    const uint8_t *v = o->bytes + i + 2;
    switch (out->kind) {
    case PKT_OPT_MSS:
        if (len != 4) return -1;
        out->mss = rd16(v);
        break;
    case PKT_OPT_WSCALE:
        if (len != 3) return -1;
        out->wscale = v[0];
        break;
    case PKT_OPT_SACK_OK:
        if (len != 2) return -1;
        break;
    case PKT_OPT_SACK:
        if ((len - 2) % 8 != 0 || (len - 2) / 8 > PKT_SACK_MAX) return -1;
        out->nsack = (uint8_t)((len - 2) / 8);
        for (int k = 0; k < out->nsack; k++) {
            out->sack[k].left = rd32(v + 8 * k);
            out->sack[k].right = rd32(v + 8 * k + 4);
        }
        break;
    case PKT_OPT_TS:
        if (len != 10) return -1;
        out->ts_val = rd32(v);
        out->ts_ecr = rd32(v + 4);
        break;
    default:
        break; /* other kinds are kept as bytes */
    }
    *off = i + len;
    return 1;
}

int pkt_opts_add(struct pkt_opts *o, const struct pkt_opt *opt)
{
    uint8_t b[PKT_OPTS_MAX];
    size_t n;
    switch (opt->kind) {
    case PKT_OPT_EOL:
    case PKT_OPT_NOP:
        b[0] = opt->kind;
        n = 1;
        break;
    case PKT_OPT_MSS:
        b[0] = PKT_OPT_MSS;
        b[1] = 4;
        wr16(b + 2, opt->mss);
        n = 4;
        break;
    case PKT_OPT_WSCALE:
        b[0] = PKT_OPT_WSCALE;
        b[1] = 3;
        b[2] = opt->wscale;
        n = 3;
        break;
    case PKT_OPT_SACK_OK:
        b[0] = PKT_OPT_SACK_OK;
        b[1] = 2;
        n = 2;
        break;
    case PKT_OPT_SACK:
        if (opt->nsack > PKT_SACK_MAX) return -1;
        b[0] = PKT_OPT_SACK;
        b[1] = (uint8_t)(2 + 8 * opt->nsack);
        for (int k = 0; k < opt->nsack; k++) {
            wr32(b + 2 + 8 * k, opt->sack[k].left);
            wr32(b + 6 + 8 * k, opt->sack[k].right);
        }
        n = b[1];
        break;
    case PKT_OPT_TS:
        b[0] = PKT_OPT_TS;
        b[1] = 10;
        wr32(b + 2, opt->ts_val);
        wr32(b + 6, opt->ts_ecr);
        n = 10;
        break;
    default:
        return -1; /* other kinds are added as bytes by their owner */
    }
    if (o->len + n > PKT_OPTS_MAX) return -1;
    memcpy(o->bytes + o->len, b, n);
    o->len = (uint8_t)(o->len + n);
    return 0;
}
