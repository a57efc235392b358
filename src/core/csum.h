/*
 * csum.h: the Internet checksum (RFC 1071) and its incremental update
 * (RFC 1624).
 *
 * csum_add() accumulates a 32-bit partial sum over bytes in network order;
 * csum_fold() folds it to the 16-bit one's complement. A checksum field is
 * valid when the sum over the covered bytes, field included, folds to 0.
 */
#ifndef USTACK_CORE_CSUM_H
#define USTACK_CORE_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Adds `len` bytes at `data` to the partial sum `sum` (odd lengths padded with
 * a zero byte, RFC 1071 §4.1). The data's offset within the overall sum must
 * be even. */
uint32_t csum_add(uint32_t sum, const void *data, size_t len);
/* Folds to 16 bits and complements: the value to store in a header. */
uint16_t csum_fold(uint32_t sum);
/* The IPv4 pseudo-header sum for TCP/UDP (RFC 9293 §3.1). */
uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);
/* Internet checksum of a buffer: csum_fold(csum_add(0, data, len)). */
uint16_t csum(const void *data, size_t len);
/* RFC 1624 eqn. 3: the new checksum when a 16-bit field changes from `old` to
 * `new_`: HC' = ~(~HC + ~m + m'). */
uint16_t csum_update16(uint16_t hc, uint16_t old, uint16_t new_);
uint16_t csum_update32(uint16_t hc, uint32_t old, uint32_t new_);

/* csum() of a 20-byte IPv4 header, inline: five 32-bit words summed in 64
 * bits and folded, as Linux's ip_fast_csum. Folding a sum of 32-bit words to
 * 16 bits is the RFC 1071 sum of its 16-bit words (2^16 = 1 in one's
 * complement arithmetic), and the sum may be taken in the host's byte order
 * and swapped at the end (RFC 1071 §2(B)). Every packet received and sent
 * pays this: the general routine costs ~75 instructions, this ~20. */
static inline uint16_t csum_ip20(const uint8_t *h)
{
    uint64_t sum = 0;
    for (int i = 0; i < 20; i += 4) {
        uint32_t w;
        memcpy(&w, h + i, 4);
        sum += w;
    }
    sum = (sum & 0xffffffffu) + (sum >> 32);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    uint16_t r = (uint16_t)~sum;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    r = (uint16_t)(r << 8 | r >> 8);
#endif
    return r;
}

#endif
