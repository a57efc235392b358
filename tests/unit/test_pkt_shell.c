/* Backquoted shell lines: the sysctls that map to ustack settings, the rest
 * listed as ignored; FreeBSD `sysctl -w`, Linux `sysctl -q` with shell
 * arithmetic, set_sysctls.py, and the shared ../common/defaults.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pkt/pkt.h"

static struct pkt_script *script;

static void cleanup(void)
{
    pkt_script_free(script);
}

/* The shell part of `0 `command``, read with files from base_dir. */
static const struct pkt_shell *shell(const char *command, const char *base_dir)
{
    char text[2048];
    snprintf(text, sizeof(text), "0 `%s`\n", command);
    struct pkt_parse_opts opts = {NULL, 0, base_dir, false};
    struct pkt_error err;
    char msg[600];
    pkt_script_free(script);
    int r = pkt_parse_buffer("t.pkt", text, strlen(text), &opts, &script, &err);
    cr_assert_eq(r, 0, "%s", pkt_error_format(&err, msg, sizeof(msg)));
    cr_assert_eq(script->events[0].kind, PKT_EV_SHELL);
    return &script->events[0].u.shell;
}

/* The value of the setting `which`, asserting it appears exactly once. */
static int64_t setting(const struct pkt_shell *sh, enum pkt_setting which)
{
    int found = -1;
    for (uint32_t i = 0; i < sh->nsettings; i++) {
        if (sh->settings[i].setting != which) continue;
        cr_assert_eq(found, -1, "%s set twice", pkt_setting_name(which));
        found = (int)i;
    }
    cr_assert_neq(found, -1, "%s not set", pkt_setting_name(which));
    return sh->settings[found].value;
}

static bool ignored(const struct pkt_shell *sh, const char *text)
{
    for (uint32_t i = 0; i < sh->nignored; i++)
        if (!strcmp(sh->ignored[i], text)) return true;
    return false;
}

TestSuite(pkt_shell, .fini = cleanup);

Test(pkt_shell, freebsd_sysctls)
{
    const struct pkt_shell *sh = shell("sysctl -w net.inet.tcp.sack.enable=1", NULL);
    cr_assert_eq(sh->nsettings, 1);
    cr_assert_eq(setting(sh, PKT_SET_SACK), 1);
    cr_assert_str_eq(sh->settings[0].sysctl, "net.inet.tcp.sack.enable");
    cr_assert_str_eq(sh->settings[0].text, "1");

    cr_assert_eq(setting(shell("sysctl -w net.inet.tcp.recvspace=65536", NULL), PKT_SET_RCVBUF),
                 65536);
    cr_assert_eq(setting(shell("sysctl -w net.inet.tcp.sendspace=32768", NULL), PKT_SET_SNDBUF),
                 32768);
    cr_assert_eq(setting(shell("sysctl -w kern.ipc.maxsockbuf=2097152", NULL), PKT_SET_SOCKBUF_MAX),
                 2097152);
    cr_assert_eq(
        setting(shell("sysctl -w net.inet.tcp.insecure_rst=0", NULL), PKT_SET_INSECURE_RST), 0);
    cr_assert_eq(
        setting(shell("sysctl -w net.inet.tcp.insecure_syn=1", NULL), PKT_SET_INSECURE_SYN), 1);
    cr_assert_eq(setting(shell("sysctl -w net.inet.tcp.syncookies=1", NULL), PKT_SET_SYNCOOKIES),
                 1);
    cr_assert_eq(
        setting(shell("sysctl -w net.inet.tcp.syncookies_only=0", NULL), PKT_SET_SYNCOOKIES_ONLY),
        0);
    cr_assert_eq(
        setting(shell("sysctl -w net.inet.tcp.rexmit_initial=1000", NULL), PKT_SET_RTO_INITIAL),
        1000);
    cr_assert_eq(setting(shell("sysctl -w net.inet.tcp.drop_synfin=1", NULL), PKT_SET_DROP_SYNFIN),
                 1);
}

Test(pkt_shell, freebsd_rfc1323_is_two_settings)
{
    /* 0 off, 1 both, 2 window scaling only, 3 timestamps only. */
    static const int64_t want[4][2] = {{0, 0}, {1, 1}, {1, 0}, {0, 1}};
    for (int v = 0; v < 4; v++) {
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "sysctl -w net.inet.tcp.rfc1323=%d", v);
        const struct pkt_shell *sh = shell(cmd, NULL);
        cr_assert_eq(sh->nsettings, 2);
        cr_assert_eq(setting(sh, PKT_SET_WINDOW_SCALING), want[v][0], "rfc1323=%d", v);
        cr_assert_eq(setting(sh, PKT_SET_TIMESTAMPS), want[v][1], "rfc1323=%d", v);
    }
    cr_assert(
        ignored(shell("sysctl -w net.inet.tcp.rfc1323=7", NULL), "sysctl net.inet.tcp.rfc1323=7"));
}

Test(pkt_shell, other_commands_are_listed_as_ignored)
{
    const struct pkt_shell *sh = shell("sysctl -w net.inet.tcp.blackhole=0", NULL);
    cr_assert_eq(sh->nsettings, 0);
    cr_assert(ignored(sh, "sysctl net.inet.tcp.blackhole=0"));
    sh = shell("sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1", NULL);
    cr_assert_eq(sh->nignored, 1);
    cr_assert_str_eq(sh->ignored[0],
                     "sockstat -4 -P tcp -s | grep packetdril | grep -c TIME_WAIT | grep 1");
    sh = shell("tcpdrop -s TIME_WAIT", NULL);
    cr_assert(ignored(sh, "tcpdrop -s TIME_WAIT"));
    sh = shell("sysctl net.ipv4.tcp_sack", NULL);
    cr_assert(ignored(sh, "sysctl net.ipv4.tcp_sack"), "a read sets nothing");
    sh = shell("/tmp/sysctl_restore_${PPID}.sh", "/tmp");
    cr_assert(ignored(sh, "/tmp/sysctl_restore_${PPID}.sh"));
}

Test(pkt_shell, linux_forms)
{
    const struct pkt_shell *sh =
        shell("sysctl -q net.ipv4.tcp_rmem=\"4096 540000 $((15*1024*1024))\"", NULL);
    cr_assert_eq(setting(sh, PKT_SET_RCVBUF), 540000);
    cr_assert_eq(setting(sh, PKT_SET_RCVBUF_MAX), 15 * 1024 * 1024);
    sh = shell("sysctl -q net.ipv4.tcp_wmem='4096 16384 4194304'", NULL);
    cr_assert_eq(setting(sh, PKT_SET_SNDBUF), 16384);
    cr_assert_eq(setting(sh, PKT_SET_SNDBUF_MAX), 4194304);
    sh = shell("sysctl -q net.ipv4.tcp_early_retrans=4 net.ipv4.tcp_timestamps=0 > /dev/null 2>&1",
               NULL);
    cr_assert_eq(setting(sh, PKT_SET_TIMESTAMPS), 0);
    cr_assert(ignored(sh, "sysctl net.ipv4.tcp_early_retrans=4"));
    cr_assert_eq(sh->nignored, 1, "redirections are not commands");
    sh = shell("sysctl -q net.ipv4.tcp_congestion_control=cubic; sysctl -q "
               "net.ipv4.tcp_window_scaling=0 && sysctl -q net.ipv4.tcp_syncookies=2",
               NULL);
    cr_assert_str_eq(sh->settings[0].text, "cubic");
    cr_assert_eq(sh->settings[0].setting, PKT_SET_CONGESTION);
    cr_assert_eq(setting(sh, PKT_SET_WINDOW_SCALING), 0);
    cr_assert_eq(setting(sh, PKT_SET_SYNCOOKIES), 2);
    sh = shell("sysctl -q net.ipv4.tcp_syn_retries=$((2*(3+4)-8))", NULL);
    cr_assert_eq(setting(sh, PKT_SET_SYN_RETRIES), 6);
    sh = shell("../common/set_sysctls.py /proc/sys/net/ipv4/tcp_synack_retries=3 "
               "/proc/sys/net/ipv4/tcp_min_tso_segs=10",
               NULL);
    cr_assert_eq(setting(sh, PKT_SET_SYNACK_RETRIES), 3);
    cr_assert(ignored(sh, "sysctl net.ipv4.tcp_min_tso_segs=10"));
}

Test(pkt_shell, arithmetic_we_cannot_do_leaves_the_command_ignored)
{
    const struct pkt_shell *sh = shell("sysctl -q net.ipv4.tcp_syn_retries=$((1/0))", NULL);
    cr_assert_eq(sh->nsettings, 0);
    cr_assert_eq(sh->nignored, 1);
    sh = shell("sysctl -q net.ipv4.tcp_syn_retries=$((9223372036854775807*2))", NULL);
    cr_assert_eq(sh->nsettings, 0);
    sh = shell("sysctl -q net.ipv4.tcp_sack=\"1", NULL);
    cr_assert_eq(sh->nsettings, 0, "an unterminated quote");
}

Test(pkt_shell, linux_defaults_sh_is_read_from_the_script_directory)
{
    const char *dir = USTACK_SHARED_DIR "/packetdrill/linux/close";
    FILE *f = fopen(USTACK_SHARED_DIR "/packetdrill/linux/common/defaults.sh", "r");
    if (!f) cr_skip_test("shared/packetdrill/linux/common/defaults.sh not found");
    fclose(f);
    const struct pkt_shell *sh = shell("../common/defaults.sh", dir);
    cr_assert_eq(setting(sh, PKT_SET_RCVBUF), 540000);
    cr_assert_eq(setting(sh, PKT_SET_RCVBUF_MAX), 15 * 1024 * 1024);
    cr_assert_eq(setting(sh, PKT_SET_SNDBUF), 256 * 1024);
    cr_assert_eq(setting(sh, PKT_SET_SNDBUF_MAX), 4194304);
    cr_assert_eq(setting(sh, PKT_SET_TIMESTAMPS), 1);
    cr_assert_eq(setting(sh, PKT_SET_SACK), 1);
    cr_assert_eq(setting(sh, PKT_SET_SYN_RETRIES), 5);
    cr_assert_eq(setting(sh, PKT_SET_SYNACK_RETRIES), 5);
    cr_assert_eq(setting(sh, PKT_SET_SYNCOOKIES), 1);
    cr_assert_eq(setting(sh, PKT_SET_SLOW_START_AFTER_IDLE), 0);
    bool cubic = false;
    for (uint32_t i = 0; i < sh->nsettings; i++)
        if (sh->settings[i].setting == PKT_SET_CONGESTION)
            cubic = !strcmp(sh->settings[i].text, "cubic");
    cr_assert(cubic);
    cr_assert(ignored(sh, "tc qdisc add dev tun0 root pfifo"));
    cr_assert(ignored(sh, "sysctl net.ipv4.tcp_ecn=0"));
    cr_assert(ignored(sh, "ip tcp_metrics flush all > /dev/null 2>&1"));

    /* Without a base directory nothing is read. */
    sh = shell("../common/defaults.sh", NULL);
    cr_assert_eq(sh->nsettings, 0);
    cr_assert(ignored(sh, "../common/defaults.sh"));
}

Test(pkt_shell, a_sourced_file_with_comments_and_quotes)
{
    char dir[] = "/tmp/ustack-pkt-shell-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/settings.sh", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/bash\n"
          "# don't be fooled by this apostrophe\n"
          "   sysctl -q net.ipv4.tcp_sack=0   # a comment, not arguments\n"
          "echo 'hello; world'\n"
          "sysctl -q net.ipv4.tcp_timestamps=0 # isn't quoted\n"
          "sysctl -q net.ipv4.tcp_dsack=1\n",
          f);
    fclose(f);
    const struct pkt_shell *sh = shell("settings.sh", dir);
    cr_assert_eq(setting(sh, PKT_SET_SACK), 0);
    cr_assert_eq(setting(sh, PKT_SET_TIMESTAMPS), 0);
    cr_assert(ignored(sh, "echo 'hello; world'"), "quotes keep ; inside one command");
    cr_assert(ignored(sh, "sysctl net.ipv4.tcp_dsack=1"), "an apostrophe in a comment is no quote");
    cr_assert_eq(sh->nignored, 2);
    unlink(path);
    rmdir(dir);
}
