/*
 * book.c: the table of scenarios, in the order the book tells them, and
 * the steps many of them start with.
 */
#include "scenario/book.h"

#include <string.h>

static const struct scenario *const book[] = {
    /* Opening (book_open.c) */
    &sc_handshake,
    &sc_byte_stream,
    &sc_framing,
    &sc_simultaneous_open,
    &sc_refused,
    &sc_connect_timeout,
    /* Closing (book_close.c) */
    &sc_close_client_first,
    &sc_close_server_first,
    &sc_close_three,
    &sc_close_simultaneous,
    &sc_half_close,
    &sc_time_wait_rebind,
    &sc_time_wait_lost_ack,
    /* Data under trouble (book_data.c) */
    &sc_loss_rto,
    &sc_loss_fast,
    &sc_sack_recovery,
    &sc_tail_loss_probe,
    &sc_reordering,
    &sc_zero_window,
    /* Peers that vanish (book_failure.c) */
    &sc_keepalive,
    &sc_cable_unplugged,
    &sc_cable_reboot,
    /* Listeners under pressure (book_listen.c) */
    &sc_syn_flood,
    &sc_syn_flood_cookies,
    &sc_backlog_full,
};

const struct scenario *const *book_scenarios(size_t *n)
{
    *n = sizeof(book) / sizeof(book[0]);
    return book;
}

const struct scenario *book_find(const char *name)
{
    for (size_t i = 0; i < sizeof(book) / sizeof(book[0]); i++)
        if (!strcmp(book[i]->name, name)) return book[i];
    return NULL;
}

int book_connect(struct stage *sg, uint16_t port, int *cfd, int *sfd)
{
    *cfd = *sfd = -1;
    int l = act_listen(sg, SERVER, port, 16, false);
    if (l < 0) return -1;
    int c = act_socket(sg, CLIENT, false);
    if (c < 0 || act_connect(sg, CLIENT, c, SERVER, port) < 0) return l;
    *cfd = c;
    *sfd = act_accept(sg, SERVER, l);
    return l;
}
