/*
 * rand.h: the stack's seeded generator and keyed hash.
 *
 * Everything random in ustack (ISNs, ephemeral ports, IP IDs, timer jitter,
 * wire faults) comes from here, seeded from the stack's (or wire's) seed, so a
 * run is reproducible from its seed. The generator is xoshiro256**; the keyed
 * hash is SipHash-2-4 (libsodium's crypto_shorthash), used where an attacker
 * must not predict the output: ISNs (RFC 6528), ports (RFC 6056), SYN cookies.
 */
#ifndef USTACK_CORE_RAND_H
#define USTACK_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

struct rng {
    uint64_t s[4];
};

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* True with probability pct/100. */
int rng_chance(struct rng *r, double pct);
void rng_bytes(struct rng *r, void *out, size_t len);

/* splitmix64: derives independent seeds from one. */
uint64_t splitmix64(uint64_t *state);

#define KEYED_HASH_KEYBYTES 16
/* SipHash-2-4 of `len` bytes under `key`. */
uint64_t keyed_hash(const uint8_t key[KEYED_HASH_KEYBYTES], const void *data, size_t len);

#endif
