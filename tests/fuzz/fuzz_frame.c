/*
 * fuzz_frame: arbitrary frames into us_stack_input().
 *
 * The input is a sequence of records [len_hi len_lo bytes...]; each record is
 * one frame handed to a fresh stack (10.0.0.2/24 on a link that discards what
 * it is sent), with time advancing between frames so timers run too. No input
 * may crash, read out of bounds, or leak a buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ustack/link.h"
#include "ustack/stack.h"

static int sink_send(struct us_link *l, const uint8_t *f, size_t n, us_time_t now) { return 0; }
static const struct us_link_ops sink_ops = {.send = sink_send};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct us_link link = {.ops = &sink_ops, .mtu = 1500, .name = "sink"};
    struct us_stack_config cfg;
    us_stack_config_default(&cfg);
    struct us_stack *s = us_stack_new(&cfg);
    struct us_iface_config ic = {.mac = {2, 0, 0, 0, 0, 2}, .addr = 0x0a000002, .prefix_len = 24};
    us_stack_add_iface(s, &link, &ic);
    us_stack_set_gateway(s, 0x0a000001);
    us_time_t now = 1000;
    while (size >= 2) {
        size_t len = (size_t)data[0] << 8 | data[1];
        data += 2;
        size -= 2;
        if (len > size) len = size;
        /* A private copy, so reads past `len` are caught by ASan. */
        uint8_t *frame = malloc(len ? len : 1);
        memcpy(frame, data, len);
        us_stack_input(s, 0, frame, len, now);
        free(frame);
        data += len;
        size -= len;
        now += 300000;
        us_stack_poll(s, now);
    }
    us_stack_poll(s, now + US_SEC(600));
    if (us_stack_teardown(s) != 0) abort(); /* a leak */
    us_stack_free(s);
    return 0;
}
