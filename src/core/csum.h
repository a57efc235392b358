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

#endif
