/* Frames for the script runner: inbound frames built from script packets
 * (valid IPv4 and TCP checksums, addresses, padding), and strict parsing of
 * what a stack sends. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/csum.h"
#include "core/util.h"
#include "pkt/frame.h"
#include "pkt/map.h"
#include "ustack/trace.h"

static uint8_t frame[PKT_FRAME_MAX];

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

/* Builds the frame for an inbound line (no mapping); returns its length. */
static size_t build(const char *line)
{
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    struct pkt_packet p = pkt(line);
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    int n = pkt_frame_build(frame, sizeof(frame), &s, a.remote_mac, a.local_mac, 7);
    cr_assert_gt(n, 0);
    return (size_t)n;
}

static void assert_checksums_valid(const uint8_t *f, size_t len)
{
    const uint8_t *ip = f + 14;
    cr_assert_eq(csum(ip, 20), 0, "IPv4 header checksum");
    size_t tcplen = rd16(ip + 2) - 20u;
    cr_assert_eq(14 + 20 + tcplen, len);
    uint32_t sum = csum_pseudo(rd32(ip + 12), rd32(ip + 16), 6, (uint16_t)tcplen);
    cr_assert_eq(csum_fold(csum_add(sum, ip + 20, tcplen)), 0, "TCP checksum");
}

static char *tcpdump(const uint8_t *f, size_t len)
{
    static char line[512];
    return us_trace_format(line, sizeof(line), f, len, NULL);
}

Test(pkt_frame, an_inbound_syn)
{
    size_t n = build("< S 0:0(0) win 32792 <mss 1460,sackOK,nop,nop,nop,wscale 7>");
    cr_assert_eq(n, 14 + 20 + 20 + 12);
    static const uint8_t stack_mac[6] = {2, 0, 0, 0, 0, 1}, runner_mac[6] = {2, 0, 0, 0, 0, 2};
    cr_assert_arr_eq(frame, stack_mac, 6, "to the stack");
    cr_assert_arr_eq(frame + 6, runner_mac, 6, "from the runner");
    cr_assert_eq(rd16(frame + 12), 0x0800);
    const uint8_t *ip = frame + 14, *tcp = ip + 20;
    cr_assert_eq(ip[0], 0x45);
    cr_assert_eq(rd16(ip + 4), 7, "the IP id we asked for");
    cr_assert_eq(rd16(ip + 6), 0x4000, "DF, no fragment");
    cr_assert_eq(ip[8], 64);
    cr_assert_eq(ip[9], 6);
    cr_assert_eq(tcp[12] >> 4, 8, "data offset in words");
    cr_assert_eq(tcp[13], PKT_SYN);
    assert_checksums_valid(frame, n);
    cr_assert_str_eq(tcpdump(frame, n),
                     "IP 192.0.2.1.40000 > 192.168.0.1.8080: Flags [S], seq 0, "
                     "win 32792, options [mss 1460,sackOK,nop,nop,nop,wscale 7], "
                     "length 0");
}

Test(pkt_frame, data_of_every_parity_has_valid_checksums)
{
    for (uint32_t len = 0; len < 70; len++) {
        char line[128];
        snprintf(line, sizeof(line), "< P. 1:%u(%u) ack 1 win 257 urg 2", 1 + len, len);
        size_t n = build(line);
        cr_assert_eq(n, 14u + 20 + 20 + len);
        assert_checksums_valid(frame, n);
        for (uint32_t i = 0; i < len; i++) cr_assert_eq(frame[54 + i], 0, "zero payload");
    }
    size_t n = build("< P. 1:1461(1460) ack 1 win 257");
    assert_checksums_valid(frame, n);
    cr_assert_str_eq(tcpdump(frame, n), "IP 192.0.2.1.40000 > 192.168.0.1.8080: Flags [P.], seq "
                                        "1:1461, ack 1, win 257, length 1460");
}

Test(pkt_frame, options_are_padded_with_eol)
{
    size_t n = build("< S 0:0(0) win 1 <sackOK,nop>");
    const uint8_t *tcp = frame + 34;
    cr_assert_eq(tcp[12] >> 4, 6, "3 option bytes take one word");
    static const uint8_t want[4] = {4, 2, 1, 0};
    cr_assert_arr_eq(tcp + 20, want, 4);
    assert_checksums_valid(frame, n);
}

Test(pkt_frame, an_inbound_frame_in_the_stack_space)
{
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    struct pkt_map m;
    pkt_map_init(&m);
    m.have_local_isn = true;
    m.local_isn = 0x10000000;
    struct pkt_packet p = pkt("< . 1:1(0) ack 1 win 257");
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    pkt_map_inbound(&m, &p, &s);
    int n = pkt_frame_build(frame, sizeof(frame), &s, a.remote_mac, a.local_mac, 1);
    cr_assert_gt(n, 0);
    cr_assert_eq(rd32(frame + 34 + 8), 0x10000001);
    assert_checksums_valid(frame, (size_t)n);

    /* The one-call form gives the same bytes. */
    static uint8_t again[PKT_FRAME_MAX];
    cr_assert_eq(pkt_map_inbound_frame(again, sizeof(again), &m, &p, &a, 1), n);
    cr_assert_arr_eq(again, frame, (size_t)n);
}

Test(pkt_frame, addresses_are_parameters)
{
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    a.local_ip = 0x0a000002;
    a.remote_ip = 0x0a000001;
    a.local_port = 80;
    a.remote_port = 1234;
    struct pkt_packet p = pkt("< S 0:0(0) win 100");
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    int n = pkt_frame_build(frame, sizeof(frame), &s, a.remote_mac, a.local_mac, 1);
    cr_assert_str_eq(tcpdump(frame, (size_t)n),
                     "IP 10.0.0.1.1234 > 10.0.0.2.80: Flags [S], seq 0, win 100, length 0");
    p = pkt("> S. 0:0(0) ack 1 win 100");
    pkt_seg_from_packet(&s, &p, &a);
    cr_assert(s.src_ip == a.local_ip && s.src_port == 80 && s.dst_port == 1234);
}

Test(pkt_frame, build_refuses_what_does_not_fit)
{
    struct pkt_addrs a;
    pkt_addrs_default(&a);
    struct pkt_packet p = pkt("< . 1:1001(1000) ack 1 win 1");
    struct pkt_seg s;
    pkt_seg_from_packet(&s, &p, &a);
    cr_assert_eq(pkt_frame_build(frame, 1000, &s, a.remote_mac, a.local_mac, 1), -1);
    s.len = 65535 - 40 + 1;
    cr_assert_eq(pkt_frame_build(frame, sizeof(frame), &s, a.remote_mac, a.local_mac, 1), -1);
}

Test(pkt_frame, parse_what_we_build)
{
    size_t n = build("< FP. 1:1001(1000) ack 77 win 257 urg 5 <nop,nop,TS val 1 ecr 2>");
    struct pkt_seg s;
    char err[128];
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), PKT_FRAME_TCP, "%s", err);
    cr_assert(s.src_ip == PKT_DEFAULT_REMOTE_IP && s.dst_ip == PKT_DEFAULT_LOCAL_IP);
    cr_assert(s.src_port == PKT_DEFAULT_REMOTE_PORT && s.dst_port == PKT_DEFAULT_LOCAL_PORT);
    cr_assert(s.flags == (PKT_FIN | PKT_PSH | PKT_ACK) && s.seq == 1 && s.ack == 77);
    cr_assert(s.win == 257 && s.urg == 5 && s.len == 1000 && s.opts.len == 12);
}

Test(pkt_frame, parse_rejects_malformed_frames)
{
    struct pkt_seg s;
    char err[128];
    size_t n = build("< . 1:11(10) ack 1 win 257 <nop,nop,TS val 1 ecr 2>");

    frame[n - 1] ^= 1;
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "bad TCP checksum");
    frame[n - 1] ^= 1;

    frame[14 + 8] = 63; /* TTL changes, the IP checksum does not */
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "bad IPv4 header checksum");

    n = build("< . 1:11(10) ack 1 win 257");
    cr_assert_eq(pkt_frame_parse(frame, n - 1, &s, err, sizeof(err)), -1, "total length > frame");
    cr_assert_eq(pkt_frame_parse(frame, 20, &s, err, sizeof(err)), -1);
    cr_assert_eq(pkt_frame_parse(frame, 10, &s, err, sizeof(err)), -1);

    /* A fragment: MF set, checksum fixed up. */
    n = build("< . 1:11(10) ack 1 win 257");
    wr16(frame + 14 + 6, 0x2000);
    wr16(frame + 14 + 10, 0);
    wr16(frame + 14 + 10, csum(frame + 14, 20));
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "fragmented TCP segment");

    /* An option whose length runs past the header. */
    n = build("< S 0:0(0) win 1 <mss 1460>");
    frame[34 + 21] = 9;
    uint8_t *tcp = frame + 34;
    wr16(tcp + 16, 0);
    uint32_t sum = csum_pseudo(rd32(frame + 26), rd32(frame + 30), 6, 24);
    wr16(tcp + 16, csum_fold(csum_add(sum, tcp, 24)));
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "malformed TCP options");
}

Test(pkt_frame, other_kinds_of_frames)
{
    struct pkt_seg s;
    char err[128];
    uint8_t arp[42] = {0};
    wr16(arp + 12, 0x0806);
    cr_assert_eq(pkt_frame_parse(arp, sizeof(arp), &s, err, sizeof(err)), PKT_FRAME_ARP);
    uint8_t v6[60] = {0};
    wr16(v6 + 12, 0x86dd);
    cr_assert_eq(pkt_frame_parse(v6, sizeof(v6), &s, err, sizeof(err)), PKT_FRAME_OTHER);
    /* An ICMP message: IPv4, valid, not TCP. */
    size_t n = build("< . 1:1(0) ack 1 win 257");
    frame[14 + 9] = 1;
    wr16(frame + 14 + 10, 0);
    wr16(frame + 14 + 10, csum(frame + 14, 20));
    cr_assert_eq(pkt_frame_parse(frame, n, &s, err, sizeof(err)), PKT_FRAME_OTHER);
}
