/*
 * pcap.c: captures in pcap format through libpcap's dump API.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

#include "ustack/trace.h"

struct us_pcap {
    pcap_t *dead;
    pcap_dumper_t *dumper;
};

struct us_pcap *us_pcap_open(const char *path, char *err, size_t errlen)
{
    struct us_pcap *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->dead = pcap_open_dead(DLT_EN10MB, 65535);
    if (!p->dead) {
        snprintf(err, errlen, "pcap_open_dead failed");
        free(p);
        return NULL;
    }
    p->dumper = pcap_dump_open(p->dead, path);
    if (!p->dumper) {
        snprintf(err, errlen, "cannot write %s: %s", path, pcap_geterr(p->dead));
        pcap_close(p->dead);
        free(p);
        return NULL;
    }
    return p;
}

void us_pcap_write(struct us_pcap *p, const uint8_t *frame, size_t len, us_time_t now)
{
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(now / 1000000u);
    h.ts.tv_usec = (suseconds_t)(now % 1000000u);
    h.caplen = (bpf_u_int32)(len > 65535 ? 65535 : len);
    h.len = (bpf_u_int32)len;
    pcap_dump((u_char *)p->dumper, &h, frame);
}

void us_pcap_flush(struct us_pcap *p) { pcap_dump_flush(p->dumper); }

void us_pcap_close(struct us_pcap *p)
{
    if (!p) return;
    pcap_dump_close(p->dumper);
    pcap_close(p->dead);
    free(p);
}

static void on_frame(void *ctx, struct us_stack *s, int iface, enum us_dir dir, const uint8_t *frame,
                     size_t len, us_time_t now)
{
    us_pcap_write(ctx, frame, len, now);
}

static void on_frame_out(void *ctx, struct us_stack *s, int iface, enum us_dir dir,
                         const uint8_t *frame, size_t len, us_time_t now)
{
    if (dir == US_DIR_OUT) us_pcap_write(ctx, frame, len, now);
}

struct us_observer us_pcap_observer(struct us_pcap *p)
{
    return (struct us_observer){.frame = on_frame, .ctx = p};
}

struct us_observer us_pcap_observer_out(struct us_pcap *p)
{
    return (struct us_observer){.frame = on_frame_out, .ctx = p};
}
