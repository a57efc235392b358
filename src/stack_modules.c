/*
 * stack_modules.c: transports plugged into the stack (transitional: TCP and
 * UDP arrive with their own issues; until then their packets get ICMP
 * protocol unreachable, as for any protocol we do not speak).
 */
#include "stack_modules.h"

#include "net/net.h"

int stack_modules_init(struct us_stack *s) { return 0; }
void stack_modules_flush(struct us_stack *s) {}
unsigned stack_modules_destroy(struct us_stack *s) { return 0; }

void tcp_input(struct us_stack *s, const struct ip_pkt *ip) { icmp_send_unreach(s, ip, 2); }
void udp_input(struct us_stack *s, const struct ip_pkt *ip) { icmp_send_unreach(s, ip, 2); }
void tcp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len) {}
void udp_icmp_error(struct us_stack *s, uint8_t type, uint8_t code, uint32_t src, uint32_t dst,
                    const uint8_t *l4, size_t l4len) {}

const char *us_tcp_state_name(enum us_tcp_state st)
{
    static const char *const names[US_TCP_NSTATES] = {
        "CLOSED",     "LISTEN",     "SYN-SENT",   "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
        "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING",    "LAST-ACK",     "TIME-WAIT"};
    return (unsigned)st < US_TCP_NSTATES ? names[st] : "?";
}
