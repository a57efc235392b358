/*
 * counters.h: the stack's counters, by name.
 *
 * Every dropped frame increments exactly one drop_* counter naming its reason,
 * so "what happened to my packet" always has an answer. The list is one table
 * so names, help texts and the enum never drift apart.
 */
#ifndef USTACK_COUNTERS_H
#define USTACK_COUNTERS_H

#define US_COUNTER_LIST(X)                                                       \
    /* link / Ethernet */                                                        \
    X(eth_rx, "frames received")                                                 \
    X(eth_tx, "frames sent")                                                     \
    X(eth_tx_fail, "frames the link refused to send")                            \
    X(eth_tx_gso, "frames sent for the link to segment (TSO/GSO)")               \
    X(eth_rx_gso, "frames above the MTU, not yet segmented (GRO/GSO)")           \
    X(drop_eth_short, "frames shorter than an Ethernet header")                  \
    X(drop_eth_oversize, "frames longer than the MTU allows")                    \
    X(drop_eth_other_mac, "frames for another MAC address")                      \
    X(drop_eth_type, "frames of an unsupported EtherType")                       \
    X(drop_eth_bad_iface, "frames handed in on an unknown interface")            \
    /* ARP */                                                                    \
    X(arp_rx, "ARP packets received")                                            \
    X(arp_request_tx, "ARP requests sent")                                       \
    X(arp_reply_tx, "ARP replies sent")                                          \
    X(arp_gratuitous_tx, "gratuitous ARP announcements sent")                    \
    X(arp_resolved, "addresses resolved")                                        \
    X(arp_expired, "cache entries expired")                                      \
    X(drop_arp_short, "ARP packets too short")                                   \
    X(drop_arp_format, "ARP with odd hardware/protocol type or lengths")         \
    X(drop_arp_op, "ARP with an unknown operation")                              \
    X(drop_arp_not_for_us, "ARP requests for another address")                   \
    X(drop_arp_queue_full, "frames dropped: resolution queue full")              \
    X(drop_arp_unresolved, "frames dropped: address never resolved")            \
    X(drop_no_pbuf, "frames dropped: packet buffer pool empty")                  \
    /* IPv4 */                                                                   \
    X(ip_rx, "IPv4 packets received")                                            \
    X(ip_tx, "IPv4 packets sent")                                                \
    X(drop_ip_short, "IPv4 packets shorter than a header")                       \
    X(drop_ip_version, "IPv4 packets with version != 4")                         \
    X(drop_ip_bad_ihl, "IPv4 packets with a bad header length")                 \
    X(drop_ip_bad_len, "IPv4 packets whose total length disagrees with the frame") \
    X(drop_ip_bad_csum, "IPv4 header checksum errors")                           \
    X(drop_ip_options, "IPv4 packets with options (not supported)")              \
    X(drop_ip_fragment, "IPv4 fragments (reassembly not supported)")             \
    X(drop_ip_not_for_us, "IPv4 packets for another address")                    \
    X(drop_ip_bad_src, "IPv4 packets from a broadcast/multicast/our source")     \
    X(drop_ip_ttl, "IPv4 packets with TTL 0")                                    \
    X(drop_ip_no_route, "IPv4 packets we had no route for")                      \
    X(drop_ip_too_big, "IPv4 packets larger than the MTU (DF set)")              \
    /* ICMP */                                                                   \
    X(icmp_rx, "ICMP messages received")                                         \
    X(icmp_echo_reply_tx, "echo replies sent")                                   \
    X(icmp_echo_request_tx, "echo requests sent")                                \
    X(icmp_echo_reply_rx, "echo replies received")                               \
    X(icmp_unreach_tx, "destination unreachable sent")                           \
    X(icmp_unreach_rx, "destination unreachable received")                       \
    X(icmp_ratelimited, "ICMP errors not sent: rate limit")                      \
    X(drop_icmp_short, "ICMP messages too short")                                \
    X(drop_icmp_bad_csum, "ICMP checksum errors")                                \
    X(drop_icmp_type, "ICMP messages of a type we ignore")                       \
    X(drop_icmp_reply_queue, "echo replies dropped: reply queue full")           \
    /* TCP */                                                                    \
    X(tcp_rx, "TCP segments received")                                           \
    X(tcp_tx, "TCP segments sent")                                               \
    X(tcp_rst_tx, "RSTs sent")                                                   \
    X(tcp_rst_rx, "RSTs received")                                               \
    X(tcp_active_opens, "connections opened actively")                           \
    X(tcp_passive_opens, "connections opened passively")                         \
    X(tcp_attempt_fails, "connection attempts failed")                           \
    X(tcp_estab_resets, "established connections reset")                         \
    X(tcp_retransmits, "segments retransmitted")                                 \
    X(tcp_rto_expired, "retransmission timeouts")                                \
    X(tcp_fast_retransmits, "fast retransmits")                                  \
    X(tcp_loss_probes, "tail loss probes sent (RFC 8985 §7)")                    \
    X(tcp_early_retransmits, "early retransmits, below 3 dupacks (RFC 5827)")    \
    X(tcp_lost_retransmits, "retransmissions found lost by later SACKs")         \
    X(tcp_challenge_acks, "challenge ACKs sent (RFC 5961)")                      \
    X(tcp_challenge_ratelimited, "challenge ACKs suppressed by the rate limit")  \
    X(tcp_predicted_acks, "pure ACKs taken by header prediction")                \
    X(tcp_predicted_data, "data segments taken by header prediction")            \
    X(tcp_ooo_segments, "out-of-order segments queued")                          \
    X(tcp_dup_segments, "duplicate segments received")                           \
    X(tcp_keepalive_probes, "keepalive probes sent")                             \
    X(tcp_keepalive_timeouts, "connections dropped by keepalive")                \
    X(tcp_timeouts, "connections dropped by retransmission timeout")             \
    X(tcp_persist_probes, "zero-window probes sent")                             \
    X(tcp_listen_overflows, "handshakes not completed: accept queue full")      \
    X(tcp_listen_drops, "SYNs dropped at a listener")                            \
    X(tcp_syn_queue_full, "SYNs that found the SYN queue full")                  \
    X(tcp_syncookies_sent, "SYN cookies sent")                                   \
    X(tcp_syncookies_recv, "valid SYN cookies received")                         \
    X(tcp_syncookies_failed, "invalid SYN cookies received")                     \
    X(tcp_synack_retransmits, "SYN-ACKs retransmitted")                          \
    X(tcp_defer_accept_drops, "bare ACKs held back by TCP_DEFER_ACCEPT")         \
    X(tcp_tw_entered, "connections that entered TIME-WAIT")                      \
    X(tcp_tw_recycled, "TIME-WAIT entries reused by a new SYN (RFC 6191)")       \
    X(tcp_tw_overflow, "TIME-WAIT entries not kept: cap reached")                \
    X(tcp_tw_rst_ignored, "RSTs ignored in TIME-WAIT (RFC 1337)")                \
    X(tcp_paws_rejected, "segments rejected by PAWS")                            \
    X(tcp_delayed_acks, "delayed ACKs sent")                                     \
    X(tcp_bad_transitions, "state transitions outside RFC 9293's diagram (a bug)") \
    X(drop_tcp_short, "TCP segments too short")                                  \
    X(drop_tcp_bad_off, "TCP segments with a bad data offset")                  \
    X(drop_tcp_bad_csum, "TCP checksum errors")                                  \
    X(drop_tcp_bad_opts, "TCP segments with malformed options")                  \
    X(drop_tcp_no_socket, "TCP segments for no connection")                      \
    X(drop_tcp_unacceptable, "TCP segments outside the receive window")         \
    X(drop_tcp_bad_ack, "TCP segments with an unacceptable ACK")                \
    X(drop_tcp_bad_rst, "RSTs that failed validation")                           \
    X(drop_tcp_bad_flags, "TCP segments with an invalid flag combination")      \
    X(drop_tcp_ooo_full, "out-of-order data dropped: queue full")               \
    X(drop_tcp_rcvbuf, "data dropped: receive buffer full")                      \
    X(drop_tcp_no_mem, "TCP work not done: out of memory")                       \
    /* UDP */                                                                    \
    X(udp_rx, "UDP datagrams received")                                          \
    X(udp_tx, "UDP datagrams sent")                                              \
    X(drop_udp_short, "UDP datagrams too short")                                 \
    X(drop_udp_bad_len, "UDP datagrams whose length disagrees with IP")         \
    X(drop_udp_bad_csum, "UDP checksum errors")                                  \
    X(drop_udp_no_port, "UDP datagrams for a closed port")                       \
    X(drop_udp_rcvbuf, "UDP datagrams dropped: receive queue full")

enum us_counter {
#define US_COUNTER_ENUM(name, help) US_C_##name,
    US_COUNTER_LIST(US_COUNTER_ENUM)
#undef US_COUNTER_ENUM
        US_C__COUNT
};

/* "drop_ip_bad_csum" and its help text. */
const char *us_counter_name(enum us_counter c);
const char *us_counter_help(enum us_counter c);

#endif
