/* Ports and hosts on the command line: numbers, service names from the
 * system's services database, host names through getaddrinfo(3), and an
 * error that names what failed. */
#include <criterion/criterion.h>
#include <string.h>

#include "cli.h"

Test(names, ports_are_numbers_or_services)
{
    uint16_t p = 0;
    char err[160] = "";
    cr_assert_eq(parse_service("8080", "tcp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 8080);
    cr_assert_eq(parse_service("http", "tcp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 80);
    cr_assert_eq(parse_service("ssh", "tcp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 22);
    cr_assert_eq(parse_service("smtp", "tcp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 25);
    cr_assert_eq(parse_service("domain", "udp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 53);
    cr_assert_eq(parse_service("tftp", "udp", &p, err, sizeof(err)), 0);
    cr_assert_eq(p, 69);
}

Test(names, bad_ports_say_what_failed)
{
    uint16_t p = 7;
    char err[160] = "";
    cr_assert_eq(parse_service("0", "tcp", &p, err, sizeof(err)), -1);
    cr_assert(strstr(err, "'0'"), "%s", err);
    cr_assert_eq(parse_service("65536", "tcp", &p, err, sizeof(err)), -1);
    cr_assert_eq(parse_service("", "tcp", &p, err, sizeof(err)), -1);
    cr_assert_eq(parse_service("no-such-service", "tcp", &p, err, sizeof(err)), -1);
    cr_assert(strstr(err, "'no-such-service'"), "%s", err);
    /* tftp is a UDP service only. */
    cr_assert_eq(parse_service("tftp", "tcp", &p, err, sizeof(err)), -1);
    cr_assert_eq(p, 7, "a failed parse leaves the port alone");
}

Test(names, hosts_are_addresses_or_names)
{
    uint32_t a = 0;
    char err[160] = "";
    cr_assert_eq(parse_host("10.1.2.3", &a, err, sizeof(err)), 0);
    cr_assert_eq(a, 0x0a010203u);
    /* /etc/hosts: present on every Debian system. */
    cr_assert_eq(parse_host("localhost", &a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(a, 0x7f000001u);
    /* .invalid never resolves (RFC 6761 §6.4). */
    cr_assert_eq(parse_host("no-such-host.invalid", &a, err, sizeof(err)), -1);
    cr_assert(strstr(err, "'no-such-host.invalid'"), "%s", err);
    cr_assert_eq(parse_host("", &a, err, sizeof(err)), -1);
}
