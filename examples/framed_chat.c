/*
 * framed_chat.c: messages over a TCP byte stream. TCP keeps the order of the
 * bytes but not the edges of the messages (two sends may arrive as one recv,
 * one send as two), so each message travels in a frame:
 *
 *     +--------------------------+--------+------------------+
 *     | length of body (4 bytes, | type   | body             |
 *     | network byte order)      | 1 byte | (length bytes)   |
 *     +--------------------------+--------+------------------+
 *
 * frame_send() and frame_recv() (frame.h) write and read one frame, looping
 * over short sends and short reads; the reader refuses a length above
 * FRAME_MAX_BODY before allocating anything, so a hostile length cannot make
 * us reserve 4 GB -- the server says why in an error frame and closes.
 *
 * The client sends each line of stdin (or a built-in list) as a TEXT frame;
 * the server answers each with a REPLY frame holding it in upper case. With
 * --oversize the client then breaks the limit twice: frame_send() refuses
 * a body one byte too long on its own side (EMSGSIZE), and a raw header
 * announcing 1 MiB makes the server answer with an ERROR frame and close.
 *
 * By default both run on the in-memory wire; with --tap one of them runs
 * (framed_chat server [[HOST] PORT], framed_chat client HOST [PORT]) and a
 * Python program on the kernel's side is the other.
 */
#include <ctype.h>
#include <stdlib.h>

#include "common.h"
#include "frame.h"

/* The type byte. */
enum { MSG_TEXT = 1, MSG_REPLY = 2, MSG_ERROR = 3 };

struct chat_args {
    uint32_t host;
    uint16_t port;
    bool oversize; /* the client: also break the size limit */
};

/* One connection: answer every frame until the client closes. */
static void serve(struct us_stack *s, int c, uint8_t *body)
{
    struct frame_reader r;
    frame_reader_init(&r);
    for (;;) {
        uint8_t type;
        uint32_t len;
        int rc = frame_recv(s, c, &r, &type, body, &len);
        if (rc == 0) {
            printf("%s: the client closed\n", us_stack_name(s));
            return;
        }
        if (rc < 0 && errno == EMSGSIZE) {
            /* A length we will not accept: say why, then hang up (what
             * follows the header cannot be trusted to be a frame). */
            static const char why[] = "message too long (the limit is 65536 bytes)";
            printf("%s: refused a frame announcing more than %u bytes; closing\n", us_stack_name(s),
                   (unsigned)FRAME_MAX_BODY);
            frame_send(s, c, MSG_ERROR, why, sizeof(why) - 1);
            return;
        }
        if (rc < 0) {
            ex_perror(s, errno == EPROTO ? "frame_recv (the stream ended inside a frame)"
                                         : "frame_recv");
            return;
        }
        if (type != MSG_TEXT) {
            static const char why[] = "unknown message type";
            frame_send(s, c, MSG_ERROR, why, sizeof(why) - 1);
            continue;
        }
        printf("%s: message of %u bytes: \"%.*s\"\n", us_stack_name(s), (unsigned)len,
               len > 60 ? 60 : (int)len, (const char *)body);
        for (uint32_t i = 0; i < len; i++) body[i] = (uint8_t)toupper(body[i]);
        if (frame_send(s, c, MSG_REPLY, body, len) < 0) {
            ex_perror(s, "frame_send");
            return;
        }
    }
}

static int chat_server(struct us_stack *s, void *arg)
{
    const struct chat_args *a = arg;
    int fd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    int one = 1;
    us_setsockopt(s, fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    if (us_bind(s, fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) return ex_perror(s, "bind"), 1;
    if (us_listen(s, fd, 5) < 0) return ex_perror(s, "listen"), 1;
    char who[24];
    printf("%s: listening on %s\n", us_stack_name(s), ex_addr_str(&addr, who));
    uint8_t *body = malloc(FRAME_MAX_BODY); /* the largest body we accept */
    if (!body) return ex_perror(s, "malloc"), 1;
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);
        int c = us_accept(s, fd, (struct sockaddr *)&peer, &len);
        if (c < 0) {
            if (errno == EINTR) break; /* Ctrl-C; on the wire: the client is done */
            ex_perror(s, "accept");
            continue;
        }
        printf("%s: connection from %s\n", us_stack_name(s), ex_addr_str(&peer, who));
        ex_set_rcvtimeo(s, c, 10000);
        serve(s, c, body);
        us_close(s, c);
    }
    free(body);
    us_close(s, fd);
    printf("%s: stopped\n", us_stack_name(s));
    return 0;
}

/* Reads the answer to one message and prints it; 0 for a REPLY. */
static int read_answer(struct us_stack *s, int fd, struct frame_reader *r, uint8_t *body)
{
    uint8_t type;
    uint32_t len;
    int rc = frame_recv(s, fd, r, &type, body, &len);
    if (rc == 0) {
        printf("%s: the server closed the connection\n", us_stack_name(s));
        return -1;
    }
    if (rc < 0) {
        ex_perror(s, errno == EAGAIN ? "frame_recv (no answer within 5 s)" : "frame_recv");
        return -1;
    }
    const char *kind = type == MSG_REPLY   ? "reply"
                       : type == MSG_ERROR ? "error from the server"
                                           : "unknown frame";
    printf("%s: %s \"%.*s\"\n", us_stack_name(s), kind, len > 60 ? 60 : (int)len,
           (const char *)body);
    return type == MSG_REPLY ? 0 : -1;
}

static int chat_client(struct us_stack *s, void *arg)
{
    const struct chat_args *a = arg;
    static const char *const builtin[] = {"hello", "how are you?", "bye"};
    int fd = us_socket(s, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return ex_perror(s, "socket"), 1;
    ex_set_rcvtimeo(s, fd, 5000);
    struct sockaddr_in addr = ex_sockaddr(a->host, a->port);
    char who[24];
    if (us_connect(s, fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        char call[48];
        snprintf(call, sizeof(call), "connect to %s", ex_addr_str(&addr, who));
        ex_perror(s, call);
        us_close(s, fd);
        return 1;
    }
    printf("%s: connected to %s\n", us_stack_name(s), ex_addr_str(&addr, who));
    uint8_t *body = malloc(FRAME_MAX_BODY + 1);
    if (!body) return ex_perror(s, "malloc"), us_close(s, fd), 1;
    struct frame_reader r;
    frame_reader_init(&r);
    int rc = 0;
    char line[1024];
    bool from_stdin = false;
    for (int i = 0; rc == 0; i++) {
        /* A message per line of stdin; the built-in ones if it is empty. */
        const char *msg = line;
        if (fgets(line, sizeof(line), stdin)) {
            line[strcspn(line, "\r\n")] = 0;
            from_stdin = true;
        } else if (!from_stdin && i < 3) {
            msg = builtin[i];
        } else {
            break;
        }
        if (frame_send(s, fd, MSG_TEXT, msg, (uint32_t)strlen(msg)) < 0) {
            ex_perror(s, "frame_send");
            rc = -1;
        } else if (read_answer(s, fd, &r, body) < 0) {
            rc = -1;
        }
    }
    if (a->oversize && rc == 0) {
        /* 1. One byte over the limit: frame_send() refuses it here. */
        memset(body, 'x', FRAME_MAX_BODY + 1);
        if (frame_send(s, fd, MSG_TEXT, body, FRAME_MAX_BODY + 1) < 0)
            printf("%s: frame_send of %u bytes: %s (EMSGSIZE): the limit is %u\n", us_stack_name(s),
                   (unsigned)FRAME_MAX_BODY + 1, strerror(errno), (unsigned)FRAME_MAX_BODY);
        /* 2. A raw header announcing 1 MiB: the server refuses it. */
        uint8_t hdr[5] = {0x00, 0x10, 0x00, 0x00, MSG_TEXT};
        printf("%s: sending a raw header that announces 1048576 bytes\n", us_stack_name(s));
        if (us_send(s, fd, hdr, sizeof(hdr), 0) < 0) ex_perror(s, "send");
        read_answer(s, fd, &r, body);
        rc = -1;
    }
    free(body);
    us_close(s, fd);
    return rc < 0 ? 1 : 0;
}

static void help(void)
{
    printf("Usage: framed_chat [OPTIONS]                      (server and client on the wire)\n"
           "       framed_chat [OPTIONS] server [[HOST] PORT]   (with --tap)\n"
           "       framed_chat [OPTIONS] client HOST [PORT]     (with --tap)\n\n"
           "Messages over TCP, each framed by a 4-byte length (network order) and a type\n"
           "byte. The client sends each line of stdin (three built-in messages if stdin is\n"
           "empty); the server answers each in upper case. Bodies are limited to %u bytes.\n"
           "PORT is a number or a service name (default %d).\n\n"
           "By default both run on the in-memory wire (server 10.0.0.2, client 10.0.0.1,\n"
           "virtual time):  printf 'hi\\nthere\\n' | framed_chat --trace\n\n"
           "  --oversize     the client also breaks the limit: a body one byte too long\n"
           "                 (refused by frame_send) and a header announcing 1 MiB\n"
           "                 (refused by the server); exits 1\n\n" EX_OPTIONS_HELP,
           (unsigned)FRAME_MAX_BODY, EX_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
    static const struct option own[] = {{"oversize", no_argument, 0, 'o'}, {0, 0, 0, 0}};
    struct link_opts o;
    struct chat_args srv = {.host = 0, .port = EX_DEFAULT_PORT};
    struct chat_args cli = {.host = EX_SERVER_ADDR, .port = EX_DEFAULT_PORT};
    int c;
    while ((c = ex_getopt(argc, argv, own, &o, help)) != -1)
        if (c == 'o') cli.oversize = true;
    bool tap = ex_on_tap(&o);

    /* [server [[HOST] PORT] | client HOST [PORT]] */
    int mine = -1, rest = argc - optind;
    char **arg = argv + optind;
    if (rest > 0 && !strcmp(arg[0], "server"))
        mine = 0;
    else if (rest > 0 && !strcmp(arg[0], "client"))
        mine = 1;
    else if (rest > 0)
        usage_error("expected 'server' or 'client', not '%s'", arg[0]);
    if (tap && mine < 0) usage_error("with --tap, say which side runs: server or client");
    if (mine == 0) {
        if (rest > 3) usage_error("unexpected argument '%s'", arg[3]);
        if (rest == 3) srv.host = ex_host(arg[1]);
        if (rest >= 2) srv.port = cli.port = ex_port(arg[rest - 1], "tcp");
    } else if (mine == 1) {
        if (rest > 3) usage_error("unexpected argument '%s'", arg[3]);
        if (rest < 2 && tap) usage_error("client needs HOST with --tap");
        if (rest >= 2) cli.host = ex_host(arg[1]);
        if (rest == 3) srv.port = cli.port = ex_port(arg[2], "tcp");
    }

    struct ex_part parts[] = {
        {.name = "server", .run = chat_server, .arg = &srv, .server = true},
        {.name = "client", .run = chat_client, .arg = &cli},
    };
    return ex_run(&o, parts, 2, mine < 0 ? 0 : mine);
}
