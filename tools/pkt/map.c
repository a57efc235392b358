/*
 * map.c: sequence-number and timestamp translation between script space and
 * the stack's space; the rules and why are in map.h.
 */
#include <string.h>

#include "core/util.h"
#include "pkt/map.h"

void pkt_map_init(struct pkt_map *m)
{
    memset(m, 0, sizeof(*m));
}

uint32_t pkt_map_ts_offset(const struct pkt_map *m)
{
    return m->have_ts ? m->ts_live - m->ts_script : 0;
}

/* Finds the first option of `kind`; returns 1 with it decoded, else 0. */
static int find_opt(const struct pkt_opts *o, uint8_t kind, struct pkt_opt *out)
{
    size_t off = 0;
    while (pkt_opts_next(o, &off, out) == 1)
        if (out->kind == kind) return 1;
    return 0;
}

/* Adds `delta` to every SACK block and/or TS field in place (mod 2^32). */
static void shift_opts(struct pkt_opts *o, uint32_t sack_delta, uint32_t ts_val_delta,
                       uint32_t ts_ecr_delta)
{
    size_t off = 0;
    struct pkt_opt opt;
    while (pkt_opts_next(o, &off, &opt) == 1) {
        uint8_t *v = o->bytes + opt.off + 2;
        if (opt.kind == PKT_OPT_SACK) {
            for (int k = 0; k < opt.nsack; k++) {
                wr32(v + 8 * k, opt.sack[k].left + sack_delta);
                wr32(v + 8 * k + 4, opt.sack[k].right + sack_delta);
            }
        } else if (opt.kind == PKT_OPT_TS) {
            wr32(v, opt.ts_val + ts_val_delta);
            wr32(v + 4, opt.ts_ecr + ts_ecr_delta);
        }
    }
}

void pkt_map_inbound(struct pkt_map *m, const struct pkt_packet *p, struct pkt_seg *s)
{
    if ((p->flags & PKT_SYN) && !m->have_remote_isn) {
        m->have_remote_isn = true;
        m->remote_isn = p->seq;
    }
    uint32_t isn = m->have_local_isn ? m->local_isn : 0;
    if (p->has_ack) s->ack = p->ack + isn;
    shift_opts(&s->opts, isn, 0, pkt_map_ts_offset(m));
}

void pkt_map_learn(struct pkt_map *m, const struct pkt_seg *actual,
                   const struct pkt_packet *expected)
{
    if (!expected) return;
    if (!m->have_local_isn && (actual->flags & PKT_SYN) && (expected->flags & PKT_SYN) &&
        !expected->seq_any) {
        m->have_local_isn = true;
        m->local_isn = actual->seq - expected->seq;
    }
    struct pkt_opt a, e;
    if (!m->have_ts && !expected->opts.any && find_opt(&actual->opts, PKT_OPT_TS, &a) &&
        find_opt(&expected->opts, PKT_OPT_TS, &e)) {
        m->have_ts = true;
        m->ts_live = a.ts_val;
        m->ts_script = e.ts_val;
    }
}

void pkt_map_outbound(const struct pkt_map *m, struct pkt_seg *s)
{
    if (m->have_local_isn) s->seq -= m->local_isn;
    shift_opts(&s->opts, 0, 0 - pkt_map_ts_offset(m), 0);
}

int pkt_map_inbound_frame(uint8_t *buf, size_t cap, struct pkt_map *m, const struct pkt_packet *p,
                          const struct pkt_addrs *a, uint16_t ip_id)
{
    struct pkt_seg s;
    pkt_seg_from_packet(&s, p, a);
    pkt_map_inbound(m, p, &s);
    return pkt_frame_build(buf, cap, &s, a->remote_mac, a->local_mac, ip_id);
}
