/* The sequence/timestamp mapper: the stack's ISN learned from its first
 * SYN or SYN-ACK, inbound acks and SACK blocks shifted into the stack's
 * space, outbound seqs shifted back, and the TS offset learned from the
 * first outbound TS val (map.h has the table). */
#include <criterion/criterion.h>
#include <string.h>

#include "pkt/frame.h"
#include "pkt/map.h"

/* One script line (without time) as a packet. */
static struct pkt_packet pkt(const char *line)
{
    char text[512];
    snprintf(text, sizeof(text), "0 %s\n", line);
    struct pkt_script *s;
    struct pkt_error err;
    char msg[600];
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), NULL, &s, &err);
    cr_assert_eq(r, 0, "%s", pkt_error_format(&err, msg, sizeof(msg)));
    struct pkt_packet p = s->events[0].u.packet;
    pkt_script_free(s);
    return p;
}

static struct pkt_addrs addrs(void)
{
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    return a;
}

/* What the stack sends for a `>` line when its ISN is `isn` and its TS
 * clock reads `ts_off` more than the script's. */
static struct pkt_seg stack_sends(const char *line, uint32_t isn, uint32_t ts_off)
{
    struct pkt_packet p = pkt(line);
    struct pkt_addrs a = addrs();
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    s.seq += isn;
    size_t off = 0;
    struct pkt_opt o;
    while (pkt_opts_next(&s.opts, &off, &o) == 1) {
        if (o.kind != PKT_OPT_TS) continue;
        uint32_t v = o.ts_val + ts_off;
        uint8_t *b = s.opts.bytes + o.off + 2;
        b[0] = (uint8_t)(v >> 24);
        b[1] = (uint8_t)(v >> 16);
        b[2] = (uint8_t)(v >> 8);
        b[3] = (uint8_t)v;
    }
    return s;
}

/* An inbound line as the stack will receive it. */
static struct pkt_seg injected(struct pkt_map *m, const char *line)
{
    struct pkt_packet p = pkt(line);
    struct pkt_addrs a = addrs();
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    pkt_map_inbound(m, &p, &s);
    return s;
}

static struct pkt_opt ts_of(const struct pkt_seg *s)
{
    struct pkt_opt o;
    size_t off = 0;
    while (pkt_opts_next(&s->opts, &off, &o) == 1)
        if (o.kind == PKT_OPT_TS) return o;
    cr_assert_fail("no TS option");
    return o;
}

Test(pkt_map, nothing_learned_means_no_offset)
{
    struct pkt_map m;
    pkt_map_init(&m);
    /* gvisor reset_for_ack...: an ACK to a listener, ack 1 as written. */
    struct pkt_seg in = injected(&m, "< . 1:1(0) ack 1 win 32792");
    cr_assert_eq(in.seq, 1);
    cr_assert_eq(in.ack, 1);
    struct pkt_seg out = stack_sends("> R 1:1(0) win 0", 0, 0);
    pkt_map_outbound(&m, &out);
    cr_assert_eq(out.seq, 1, "the RST takes its seq from that ack");
}

Test(pkt_map, local_isn_from_the_first_syn_ack)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_seg syn = injected(&m, "< S 0:0(0) win 32792 <mss 1460>");
    cr_assert_eq(syn.seq, 0, "the script's own ISN is sent as written");
    cr_assert(m.have_remote_isn && m.remote_isn == 0);

    struct pkt_packet e = pkt("> S. 0:0(0) ack 1 <...>");
    struct pkt_seg sa = stack_sends("> S. 0:0(0) ack 1", 3000000000u, 0);
    pkt_map_learn(&m, &sa, &e);
    cr_assert(m.have_local_isn && m.local_isn == 3000000000u);
    pkt_map_outbound(&m, &sa);
    cr_assert_eq(sa.seq, 0);
    cr_assert_eq(sa.ack, 1, "outbound acks are in the script's own space");

    struct pkt_seg ack = injected(&m, "< . 1:1(0) ack 1 win 257");
    cr_assert_eq(ack.seq, 1);
    cr_assert_eq(ack.ack, 3000000001u);
}

Test(pkt_map, offsets_wrap_around)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S 0:0(0) <...>");
    struct pkt_seg syn = stack_sends("> S 0:0(0)", 0xffffff00u, 0);
    pkt_map_learn(&m, &syn, &e);
    struct pkt_seg in = injected(&m, "< . 1:1(0) ack 1001 win 257");
    cr_assert_eq(in.ack, 0xffffff00u + 1001u);
    cr_assert_eq(in.ack, 0x2e9, "past 2^32");
    struct pkt_seg data = stack_sends("> P. 1001:2001(1000) ack 1", 0xffffff00u, 0);
    pkt_map_outbound(&m, &data);
    cr_assert_eq(data.seq, 1001);
}

Test(pkt_map, a_scripted_isn_other_than_zero)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S 100:100(0) <...>");
    struct pkt_seg syn = stack_sends("> S 100:100(0)", 5000, 0);
    pkt_map_learn(&m, &syn, &e);
    cr_assert_eq(m.local_isn, 5000, "the offset between stack and script seqs");
    pkt_map_outbound(&m, &syn);
    cr_assert_eq(syn.seq, 100);
}

Test(pkt_map, the_isn_is_learned_once)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S. 0:0(0) ack 1 <...>");
    struct pkt_seg first = stack_sends("> S. 0:0(0) ack 1", 1000, 0);
    struct pkt_seg second = stack_sends("> S. 0:0(0) ack 1", 777777, 0);
    pkt_map_learn(&m, &first, &e);
    pkt_map_learn(&m, &second, &e);
    cr_assert_eq(m.local_isn, 1000, "a new handshake compares against the first ISN");
}

Test(pkt_map, nothing_learned_from_the_wrong_segments)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_seg rst = stack_sends("> R. 0:0(0) ack 1", 1000, 0);
    pkt_map_learn(&m, &rst, &(struct pkt_packet){.flags = PKT_SYN | PKT_ACK});
    cr_assert(!m.have_local_isn, "the stack's segment has no SYN");
    struct pkt_seg syn = stack_sends("> S. 0:0(0) ack 1", 1000, 0);
    struct pkt_packet r = pkt("> R. 0:0(0) ack 1");
    pkt_map_learn(&m, &syn, &r);
    cr_assert(!m.have_local_isn, "the script expected no SYN");
    pkt_map_learn(&m, &syn, NULL);
    cr_assert(!m.have_local_isn, "nobody expected it");
    struct pkt_packet any = pkt("> S. ...(0) ack 1");
    pkt_map_learn(&m, &syn, &any);
    cr_assert(!m.have_local_isn, "the script did not say which seq");
}

Test(pkt_map, timestamps)
{
    struct pkt_map m;
    pkt_map_init(&m);
    const char *syn_line = "> S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8>";
    struct pkt_packet e = pkt(syn_line);
    struct pkt_seg syn = stack_sends(syn_line, 42, 123356);
    cr_assert_eq(ts_of(&syn).ts_val, 123456);
    pkt_map_learn(&m, &syn, &e);
    cr_assert(m.have_ts && m.ts_script == 100 && m.ts_live == 123456);
    cr_assert_eq(pkt_map_ts_offset(&m), 123356);

    /* Inbound: our TS val as written, our ecr (a script-space val of the
     * stack) in the stack's clock. */
    struct pkt_seg in = injected(&m, "< S. 0:0(0) ack 1 win 5792 <nop,nop,TS val 700 ecr 100>");
    cr_assert_eq(ts_of(&in).ts_val, 700);
    cr_assert_eq(ts_of(&in).ts_ecr, 123456);

    /* Outbound: the stack's val back in script space, its ecr as sent. */
    struct pkt_seg out = stack_sends("> . 1:1(0) ack 1 <nop,nop,TS val 1100 ecr 700>", 42, 123356);
    pkt_map_outbound(&m, &out);
    cr_assert_eq(ts_of(&out).ts_val, 1100);
    cr_assert_eq(ts_of(&out).ts_ecr, 700);
}

Test(pkt_map, any_options_teach_no_timestamp)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S 0:0(0) <...>");
    struct pkt_seg syn = stack_sends("> S 0:0(0) <TS val 5 ecr 0>", 0, 1000);
    pkt_map_learn(&m, &syn, &e);
    cr_assert(!m.have_ts);
    struct pkt_seg in = injected(&m, "< . 1:1(0) ack 1 win 1 <nop,nop,TS val 1 ecr 5>");
    cr_assert_eq(ts_of(&in).ts_ecr, 5, "no offset yet");
}

Test(pkt_map, sack_blocks_refer_to_the_stack_data)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S. 0:0(0) ack 1 <...>");
    struct pkt_seg sa = stack_sends("> S. 0:0(0) ack 1", 100000, 0);
    pkt_map_learn(&m, &sa, &e);
    struct pkt_seg in = injected(&m, "< . 1:1(0) ack 1 win 257 <nop,nop,sack 1001:2001 3001:4001>");
    struct pkt_opt o;
    size_t off = 0;
    while (pkt_opts_next(&in.opts, &off, &o) == 1 && o.kind != PKT_OPT_SACK) continue;
    cr_assert_eq(o.kind, PKT_OPT_SACK);
    cr_assert(o.nsack == 2 && o.sack[0].left == 101001 && o.sack[0].right == 102001);
    cr_assert(o.sack[1].left == 103001 && o.sack[1].right == 104001);

    /* The stack's SACK blocks name the script's data: unchanged. */
    struct pkt_seg out = stack_sends("> . 1:1(0) ack 1 <nop,nop,sack 1001:2001>", 100000, 0);
    pkt_map_outbound(&m, &out);
    off = 0;
    while (pkt_opts_next(&out.opts, &off, &o) == 1 && o.kind != PKT_OPT_SACK) continue;
    cr_assert(o.sack[0].left == 1001 && o.sack[0].right == 2001);
}

Test(pkt_map, acks_without_the_ack_flag_are_translated_too)
{
    struct pkt_map m;
    pkt_map_init(&m);
    struct pkt_packet e = pkt("> S. 0:0(0) ack 1 <...>");
    struct pkt_seg sa = stack_sends("> S. 0:0(0) ack 1", 5000, 0);
    pkt_map_learn(&m, &sa, &e);
    struct pkt_seg fin = injected(&m, "< F 65701:65701(0) ack 2 win 32767");
    cr_assert_eq(fin.ack, 5002);
    struct pkt_seg rst = injected(&m, "< R 1:1(0) win 0");
    cr_assert_eq(rst.ack, 0, "no ack given, none made up");
}
