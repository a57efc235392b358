/*
 * csum.c: the Internet checksum, RFC 1071, with RFC 1624 incremental update.
 *
 * The sum is accumulated over native 64-bit words with end-around carry
 * (RFC 1071 §2(B): the one's complement sum is independent of byte order and
 * of word size, so wider words are just fewer additions) and converted to a
 * network-order value only when folded.
 */
#include "core/csum.h"

#include <string.h>

#include "core/util.h"

static uint32_t fold64(uint64_t acc)
{
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    return (uint32_t)acc;
}

uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    uint64_t w, a0 = 0, a1 = 0;
    uint64_t c0 = 0, c1 = 0;

    /* Two independent accumulators keep the adds from waiting on each other. */
    while (len >= 16) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, p + 8, 8);
        a0 += x;
        c0 += a0 < x;
        a1 += y;
        c1 += a1 < y;
        p += 16;
        len -= 16;
    }
    acc += fold64(a0) + (uint64_t)fold64(a1) + c0 + c1;
    if (len >= 8) {
        memcpy(&w, p, 8);
        acc += fold64(w);
        p += 8;
        len -= 8;
    }
    if (len >= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        acc += v;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        acc += v;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint8_t last[2] = {p[0], 0};
        uint16_t v;
        memcpy(&v, last, 2);
        acc += v;
    }
    return fold64(acc);
}

uint16_t csum_fold(uint32_t sum)
{
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    uint16_t native = (uint16_t)~sum;
    uint8_t bytes[2];
    memcpy(bytes, &native, 2);
    return rd16(bytes);
}

uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
    /* The pseudo-header's six 16-bit words summed as numbers, folded, then
     * put in the byte order csum_add() sums in (RFC 1071 §2(B): only the
     * order of the two bytes differs). No buffer, no loop: it runs for
     * every segment sent and every one checked. */
    uint32_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto + len;
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    uint8_t be[2] = {(uint8_t)(s >> 8), (uint8_t)s};
    uint16_t native;
    memcpy(&native, be, 2);
    return native;
}

uint16_t csum(const void *data, size_t len) { return csum_fold(csum_add(0, data, len)); }

/* One's complement addition of 16-bit values. */
static uint32_t oc_add(uint32_t a, uint32_t b)
{
    uint32_t s = a + b;
    return (s & 0xffffu) + (s >> 16);
}

uint16_t csum_update16(uint16_t hc, uint16_t old, uint16_t new_)
{
    /* RFC 1624 §3, eqn. 3: HC' = ~(~HC + ~m + m'). */
    uint32_t s = oc_add(oc_add((uint16_t)~hc, (uint16_t)~old), new_);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)~s;
}

uint16_t csum_update32(uint16_t hc, uint32_t old, uint32_t new_)
{
    hc = csum_update16(hc, (uint16_t)(old >> 16), (uint16_t)(new_ >> 16));
    return csum_update16(hc, (uint16_t)old, (uint16_t)new_);
}
