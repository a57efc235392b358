#include "bench.h"
int bench_tap(const struct bench_ctx *bc) { return 0; }
int bench_conns(const struct bench_ctx *bc) { return 0; }
int bench_scale(const struct bench_ctx *bc) { return 0; }
