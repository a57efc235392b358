/*
 * options.c: TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018).
 *
 * The SYN layout copies Linux's, so captures look familiar:
 *   mss, sackOK, TS, nop, wscale     (each variant drops what is off)
 * and data segments carry nop, nop, TS, then SACK blocks (nop, nop, sack).
 */
#include <string.h>

#include "core/util.h"
#include "tcp/tcp.h"

#define OPT_EOL 0
#define OPT_NOP 1
#define OPT_MSS 2
#define OPT_WS 3
#define OPT_SACK_OK 4
#define OPT_SACK 5
#define OPT_TS 8

bool tcp_parse_options(const uint8_t *p, size_t len, bool syn, struct tcp_opts *o)
{
    /* The layout of nearly every segment after the handshake (RFC 7323
     * Appendix A: NOP, NOP, TS): recognised with one comparison, as BSD's
     * header prediction does. The SACK blocks are not cleared: n_sack says
     * how many are valid. */
    if (len == 12 && rd32(p) == 0x0101080au) {
        o->has_mss = o->has_ws = o->sack_ok = false;
        o->mss = 0;
        o->wscale = 0;
        o->n_sack = 0;
        o->has_ts = true;
        o->ts_val = rd32(p + 4);
        o->ts_ecr = rd32(p + 8);
        return true;
    }
    memset(o, 0, sizeof(*o));
    size_t i = 0;
    while (i < len) {
        uint8_t kind = p[i];
        if (kind == OPT_EOL) break;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        /* RFC 9293 §3.1: every other option has a length octet >= 2 that
         * must stay inside the header. */
        if (i + 1 >= len) return false;
        uint8_t olen = p[i + 1];
        if (olen < 2 || i + olen > len) return false;
        const uint8_t *v = p + i + 2;
        switch (kind) {
        case OPT_MSS:
            /* Only meaningful in a SYN (RFC 9293 §3.7.1); ignored elsewhere. */
            if (olen == 4 && syn) {
                o->has_mss = true;
                o->mss = rd16(v);
            }
            break;
        case OPT_WS:
            if (olen == 3 && syn) {
                o->has_ws = true;
                /* RFC 7323 §2.3: a shift above 14 is used as 14. */
                o->wscale = v[0] > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : v[0];
            }
            break;
        case OPT_SACK_OK:
            if (olen == 2 && syn) o->sack_ok = true;
            break;
        case OPT_SACK:
            if ((olen - 2) % 8 == 0) {
                unsigned n = (unsigned)(olen - 2) / 8;
                for (unsigned k = 0; k < n && o->n_sack < TCP_MAX_SACK; k++) {
                    o->sack[o->n_sack].left = rd32(v + 8 * k);
                    o->sack[o->n_sack].right = rd32(v + 8 * k + 4);
                    o->n_sack++;
                }
            }
            break;
        case OPT_TS:
            if (olen == 10) {
                o->has_ts = true;
                o->ts_val = rd32(v);
                o->ts_ecr = rd32(v + 4);
            }
            break;
        default:
            break; /* RFC 9293 §3.2: unknown options are skipped */
        }
        i += olen;
    }
    return true;
}

size_t tcp_write_syn_options(uint8_t *p, uint16_t mss, bool sack_ok, bool ts, uint32_t ts_val,
                             uint32_t ts_ecr, bool ws, uint8_t wscale)
{
    size_t n = 0;
    p[n++] = OPT_MSS;
    p[n++] = 4;
    wr16(p + n, mss);
    n += 2;
    if (sack_ok && ts) {
        p[n++] = OPT_SACK_OK;
        p[n++] = 2;
    } else if (sack_ok) {
        p[n++] = OPT_NOP;
        p[n++] = OPT_NOP;
        p[n++] = OPT_SACK_OK;
        p[n++] = 2;
    }
    if (ts) {
        if (!sack_ok) {
            p[n++] = OPT_NOP;
            p[n++] = OPT_NOP;
        }
        p[n++] = OPT_TS;
        p[n++] = 10;
        wr32(p + n, ts_val);
        wr32(p + n + 4, ts_ecr);
        n += 8;
    }
    if (ws) {
        p[n++] = OPT_NOP;
        p[n++] = OPT_WS;
        p[n++] = 3;
        p[n++] = wscale;
    }
    return n;
}

size_t tcp_write_options(uint8_t *p, bool ts, uint32_t ts_val, uint32_t ts_ecr,
                         const struct sack_block *sack, unsigned n_sack)
{
    size_t n = 0;
    if (ts) {
        p[n++] = OPT_NOP;
        p[n++] = OPT_NOP;
        p[n++] = OPT_TS;
        p[n++] = 10;
        wr32(p + n, ts_val);
        wr32(p + n + 4, ts_ecr);
        n += 8;
    }
    /* 40 bytes of options: with timestamps, 3 SACK blocks fit; without, 4. */
    unsigned max = ts ? 3 : 4;
    if (n_sack > max) n_sack = max;
    if (n_sack) {
        p[n++] = OPT_NOP;
        p[n++] = OPT_NOP;
        p[n++] = OPT_SACK;
        p[n++] = (uint8_t)(2 + 8 * n_sack);
        for (unsigned i = 0; i < n_sack; i++) {
            wr32(p + n, sack[i].left);
            wr32(p + n + 4, sack[i].right);
            n += 8;
        }
    }
    return n;
}
