/*
 * tap.h: a Linux TAP device as a link, and the real-time loop that drives a
 * stack on it.
 *
 * The TAP is opened (or created) by name in the current network namespace,
 * IFF_TAP | IFF_NO_PI, non-blocking. The loop reads frames from it, runs them
 * through optional faults (the kernel here has no netem, so loss, delay and
 * reordering on the TAP path happen inside ustack, both directions), hands
 * them to the stack and runs its timers. It is the stack's driver, so blocking
 * socket calls work with the real clock.
 */
#ifndef USTACK_TAP_H
#define USTACK_TAP_H

#include <stdbool.h>
#include <stddef.h>

#include "ustack/link.h"
#include "ustack/wire.h"

/* Opens the TAP `name` (created if absent), sets its MTU when mtu != 0 and
 * brings it up. NULL on failure, with a message for people in `err`. */
struct us_link *us_tap_open(const char *name, unsigned mtu, char *err, size_t errlen);
/* us_tap_open() with flags. US_TAP_OFFLOAD: the virtio-net header
 * (IFF_VNET_HDR) on every frame, so checksums are left to the kernel both
 * ways and TCP sends and receives frames of up to 64 KiB that the kernel
 * segments (TSO/GSO) or has not segmented (a GSO frame of its own), if
 * the kernel offers it (us_tap_offloaded() tells). The loop turns it off
 * when it injects faults. The stack needs max_mtu 65535 for 64 KiB frames
 * (it sends frames up to what its packet buffers hold). */
#define US_TAP_OFFLOAD 0x1u
struct us_link *us_tap_open_ex(const char *name, unsigned mtu, unsigned flags, char *err,
                               size_t errlen);
bool us_tap_offloaded(const struct us_link *link);
int us_tap_fd(const struct us_link *link);
void us_tap_close(struct us_link *link);

struct us_loop;

/* A loop driving `s` on the TAP `link` (interface index `iface`). `faults_out`
 * and `faults_in` may be NULL. The loop becomes the stack's driver. */
struct us_loop *us_loop_new(struct us_stack *s, struct us_link *link, int iface,
                            const struct us_faults *faults_out, const struct us_faults *faults_in,
                            uint64_t seed);
void us_loop_free(struct us_loop *l);

/* Microseconds on the monotonic clock since the loop started. */
us_time_t us_loop_now(const struct us_loop *l);

/* Extra file descriptors to watch (a control socket, stdin). fn is called
 * when fd is readable. Returns 0 or -ENOSPC. */
int us_loop_watch(struct us_loop *l, int fd, void (*fn)(void *ctx, int fd), void *ctx);
/* The same for writability: fn is called when fd can be written (or has
 * failed), so an answer too big for the socket buffer goes out without
 * blocking the loop. */
int us_loop_watch_write(struct us_loop *l, int fd, void (*fn)(void *ctx, int fd), void *ctx);
/* Removes the (first) watch on fd. */
void us_loop_unwatch(struct us_loop *l, int fd);

/* Runs until `until` (absolute loop time) or until us_loop_stop(); returns 0,
 * or -1 when stopped. */
int us_loop_run_until(struct us_loop *l, us_time_t until);
/* Runs until stopped (SIGINT/SIGTERM via us_loop_stop from a handler). */
void us_loop_run(struct us_loop *l);
/* Async-signal-safe. */
void us_loop_stop(struct us_loop *l);
bool us_loop_stopped(const struct us_loop *l);

#endif
