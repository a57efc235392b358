/* From a request target to a file, never outside the root (tools/http/
 * path.c): the sanitizer's traversal cases, the kernel-confined open and
 * its no-symlink fallback on a real directory tree, content types and
 * response heads. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http.h"

static char out[HTTP_MAX_TARGET + 1];
static bool dir;

static int san(const char *target)
{
    return http_sanitize_path(target, out, sizeof(out), &dir);
}

static void expect_path(const char *target, const char *rel, bool is_dir)
{
    int rc = san(target);
    cr_expect_eq(rc, 0, "%s refused with %d", target, rc);
    if (rc) return;
    cr_expect_str_eq(out, rel, "%s", target);
    cr_expect_eq(dir, is_dir, "%s: directory flag", target);
}

static void expect_refused(const char *target, int status)
{
    int rc = san(target);
    cr_expect_eq(rc, status, "%s: got %d, expected %d", target, rc, status);
}

Test(http_sanitize, ordinary_paths)
{
    expect_path("/", "", true);
    expect_path("/index.html", "index.html", false);
    expect_path("/a/b/", "a/b", true);
    expect_path("/a//b/./c", "a/b/c", false);
    expect_path("//etc/passwd", "etc/passwd", false); /* inside the root, like any path */
    expect_path("/a%20b.txt", "a b.txt", false);
    expect_path("/x?y=../../etc", "x", false);
    expect_path("/x#frag", "x", false);
    expect_path("/...", "...", false);
    expect_path("/..a/b..", "..a/b..", false);
    expect_path("/.hidden", ".hidden", false);
    expect_path("/%41%62", "Ab", false);
    expect_path("/a/.", "a", false);
    expect_path("/.", "", true);
}

Test(http_sanitize, absolute_form)
{
    expect_path("http://10.0.0.2/a/b", "a/b", false);
    expect_path("http://10.0.0.2:8080/", "", true);
    expect_path("http://10.0.0.2", "", true);
    expect_path("HTTP://host?q", "", true);
    expect_refused("http://host/../etc/passwd", 403);
}

Test(http_sanitize, traversal_is_refused)
{
    expect_refused("/..", 403);
    expect_refused("/../etc/passwd", 403);
    expect_refused("/a/../../etc/passwd", 403);
    expect_refused("/a/..", 403);
    expect_refused("/a/../b", 403); /* refused even when it would stay inside */
    expect_refused("/%2e%2e/etc/passwd", 403);
    expect_refused("/%2E%2e/etc/passwd", 403);
    expect_refused("/.%2e/etc/passwd", 403);
    expect_refused("/%2e./etc/passwd", 403);
    expect_refused("/..%2fetc%2fpasswd", 403);
    expect_refused("/a%2f..%2f..%2fetc", 403);
    expect_refused("/a/..%2f", 403);
}

Test(http_sanitize, decoded_once_only)
{
    /* %252e is "%2e" after one decoding: a harmless name, not "..". */
    expect_path("/%252e%252e/etc", "%2e%2e/etc", false);
}

Test(http_sanitize, not_a_path)
{
    expect_refused("etc/passwd", 400);
    expect_refused("*", 400);
    expect_refused("", 400);
    expect_refused("C:/windows", 400);
    expect_refused("/%00", 400);
    expect_refused("/a%00.html", 400);
    expect_refused("/%0a", 400);
    expect_refused("/%0d%0aSet-Cookie:x", 400);
    expect_refused("/%7f", 400);
    expect_refused("/%zz", 400);
    expect_refused("/%4", 400);
    expect_refused("/%", 400);
}

Test(http_sanitize, output_bounded)
{
    char small[8];
    cr_assert_eq(http_sanitize_path("/abcdefghijkl", small, sizeof(small), &dir), 414);
}

/* ---- the confined open, on a real tree ---- */

static char tmp[64];
static int rootfd;

static void mkfile(const char *path, const char *content)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmp, path);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs(content, f);
    fclose(f);
}

static void mklink(const char *target, const char *path)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tmp, path);
    cr_assert_eq(symlink(target, p), 0, "%s", p);
}

/* tmp/root is the document root; tmp/outside/secret must never be served. */
static void tree_setup(void)
{
    snprintf(tmp, sizeof(tmp), "/tmp/ustack-http-path-XXXXXX");
    cr_assert(mkdtemp(tmp));
    char p[256];
    static const char *const dirs[] = {"root", "root/sub", "root/locked", "outside"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", tmp, dirs[i]);
        cr_assert_eq(mkdir(p, 0755), 0);
    }
    mkfile("root/a.txt", "a");
    mkfile("root/sub/index.html", "<p>sub</p>");
    mkfile("outside/secret", "secret");
    mklink("a.txt", "root/link_in");
    mklink("sub", "root/dir_in");
    mklink("../outside/secret", "root/link_out");
    snprintf(p, sizeof(p), "%s/outside/secret", tmp);
    mklink(p, "root/abs_out");
    mklink("../outside", "root/dir_out");
    mklink("/etc", "root/etc_link");
    snprintf(p, sizeof(p), "%s/root/fifo", tmp);
    cr_assert_eq(mkfifo(p, 0644), 0);
    snprintf(p, sizeof(p), "%s/root", tmp);
    rootfd = open(p, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(rootfd, 0);
}

static void tree_teardown(void)
{
    close(rootfd);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

static void expect_opens(int (*open_fn)(int, const char *), const char *rel, const char *content)
{
    int fd = open_fn(rootfd, rel);
    cr_assert_geq(fd, 0, "%s: %s", rel, strerror(-fd));
    char buf[64] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    cr_assert_geq(n, 0);
    buf[n] = 0;
    cr_expect_str_eq(buf, content, "%s", rel);
    close(fd);
}

static void expect_status(int (*open_fn)(int, const char *), const char *rel, int status)
{
    int fd = open_fn(rootfd, rel);
    if (fd >= 0) close(fd);
    cr_expect_lt(fd, 0, "%s opened", rel);
    if (fd < 0)
        cr_expect_eq(http_status_for_errno(-fd), status, "%s: %s gives %d", rel, strerror(-fd),
                     http_status_for_errno(-fd));
}

TestSuite(http_open, .init = tree_setup, .fini = tree_teardown);

Test(http_open, inside_the_root)
{
    expect_opens(http_open_beneath, "a.txt", "a");
    expect_opens(http_open_beneath, "sub/index.html", "<p>sub</p>");
    expect_opens(http_open_beneath, "link_in", "a");
    expect_opens(http_open_beneath, "dir_in/index.html", "<p>sub</p>");
    int fd = http_open_beneath(rootfd, "");
    cr_assert_geq(fd, 0, "the root itself");
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    close(fd);
}

Test(http_open, symlinks_out_of_the_root_are_refused)
{
    expect_status(http_open_beneath, "link_out", 403);
    expect_status(http_open_beneath, "abs_out", 403);
    expect_status(http_open_beneath, "dir_out/secret", 403);
    expect_status(http_open_beneath, "etc_link/passwd", 403);
    /* The sanitizer stops these first; the open refuses them anyway. */
    expect_status(http_open_beneath, "../outside/secret", 403);
    expect_status(http_open_beneath, "sub/../../outside/secret", 403);
}

Test(http_open, missing_and_odd_files)
{
    expect_status(http_open_beneath, "missing", 404);
    expect_status(http_open_beneath, "a.txt/x", 404);
    expect_status(http_open_beneath, "sub/missing/x", 404);
    /* A FIFO opens without blocking; the server then refuses what is not a
     * regular file. */
    int fd = http_open_beneath(rootfd, "fifo");
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert(S_ISFIFO(st.st_mode));
    close(fd);
}

Test(http_open, unreadable_is_forbidden)
{
    if (geteuid() == 0) cr_skip_test("root reads everything");
    char p[256];
    snprintf(p, sizeof(p), "%s/root/locked", tmp);
    chmod(p, 0);
    expect_status(http_open_beneath, "locked/x", 403);
    chmod(p, 0755);
}

Test(http_open, fallback_walk_follows_no_symlink)
{
    expect_opens(http_open_walk, "a.txt", "a");
    expect_opens(http_open_walk, "sub/index.html", "<p>sub</p>");
    expect_opens(http_open_walk, "sub//index.html", "<p>sub</p>");
    expect_status(http_open_walk, "link_in", 403);
    expect_status(http_open_walk, "link_out", 403);
    expect_status(http_open_walk, "abs_out", 403);
    expect_status(http_open_walk, "dir_in/index.html", 403);
    expect_status(http_open_walk, "dir_out/secret", 403);
    expect_status(http_open_walk, "../outside/secret", 403);
    expect_status(http_open_walk, "missing", 404);
    int fd = http_open_walk(rootfd, "");
    cr_assert_geq(fd, 0, "the root itself");
    close(fd);
}

/* ---- content types and response heads ---- */

Test(http_mime, by_extension)
{
    cr_assert_str_eq(http_content_type("index.html"), "text/html; charset=utf-8");
    cr_assert_str_eq(http_content_type("sub/INDEX.HTM"), "text/html; charset=utf-8");
    cr_assert_str_eq(http_content_type("a.PNG"), "image/png");
    cr_assert_str_eq(http_content_type("d.svg"), "image/svg+xml");
    cr_assert_str_eq(http_content_type("x.tar.gz"), "application/gzip");
    cr_assert_str_eq(http_content_type("cap.pcap"), "application/vnd.tcpdump.pcap");
    cr_assert_str_eq(http_content_type("noext"), "application/octet-stream");
    cr_assert_str_eq(http_content_type(".bashrc"), "application/octet-stream");
    cr_assert_str_eq(http_content_type("dir.d/file"), "application/octet-stream");
    cr_assert_str_eq(http_content_type("a.exe"), "application/octet-stream");
}

Test(http_response, date_is_imf_fixdate)
{
    char b[40];
    cr_assert_str_eq(http_date(b, sizeof(b), 784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

Test(http_response, heads)
{
    char b[512];
    struct http_response r = {.status = 200,
                              .minor = 1,
                              .keep_alive = true,
                              .content_type = "text/plain; charset=utf-8",
                              .content_length = 5,
                              .last_modified = 784111777,
                              .now = 784111777};
    int n = http_format_head(b, sizeof(b), &r);
    cr_assert_eq(n, (int)strlen(b));
    cr_assert_str_eq(b, "HTTP/1.1 200 OK\r\n"
                        "Server: ustack\r\n"
                        "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: 5\r\n"
                        "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                        "\r\n");
    r.minor = 0;
    http_format_head(b, sizeof(b), &r);
    cr_assert(strstr(b, "\r\nConnection: keep-alive\r\n"), "1.0 client told it is kept");
    r.keep_alive = false;
    http_format_head(b, sizeof(b), &r);
    cr_assert(strstr(b, "\r\nConnection: close\r\n"));
    struct http_response e = {.status = 405, .minor = 1, .keep_alive = true, .allow = "GET, HEAD"};
    http_format_head(b, sizeof(b), &e);
    cr_assert(strstr(b, "HTTP/1.1 405 Method Not Allowed\r\n"));
    cr_assert(strstr(b, "\r\nAllow: GET, HEAD\r\n"));
    cr_assert(strstr(b, "\r\nContent-Length: 0\r\n"));
    struct http_response m = {.status = 301, .minor = 1, .keep_alive = true, .location = "/sub/"};
    http_format_head(b, sizeof(b), &m);
    cr_assert(strstr(b, "HTTP/1.1 301 Moved Permanently\r\n"));
    cr_assert(strstr(b, "\r\nLocation: /sub/\r\n"));
    cr_assert_eq(http_format_head(b, 40, &r), -1, "too small a buffer is an error, not a cut");
}

Test(http_response, error_pages)
{
    char b[512];
    int n = http_error_body(b, sizeof(b), 404);
    cr_assert_eq(n, (int)strlen(b));
    cr_assert(strstr(b, "<title>404 Not Found</title>"));
    cr_assert_eq(http_error_body(b, 10, 404), -1);
    cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
    cr_assert_str_eq(http_reason(999), "Unknown");
}
