// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ip_local_reserved_ports list (portreserve.h): parsing and formatting
 * the sysctl's text, byte for byte, its malformed forms, truncation; then
 * reserve and release against a temporary file that stands in for the
 * sysctl, holding a list the kernel could have written: only what was
 * missing is added and only that is given back, the file ends exactly as
 * it began, and failures change nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "leakcheck.h"
#include "portreserve.h"

FS_LEAK_CHECKED_SUITE(portreserve);
FS_LEAK_CHECKED_SUITE(portreserve_file);

static bool has(const uint8_t *map, unsigned int p)
{
	return map[p / 8] & (1u << (p % 8));
}

static unsigned int count(const uint8_t *map)
{
	unsigned int n = 0;

	for (unsigned int p = 0; p < 65536; ++p)
		n += has(map, p);
	return n;
}

/* text parsed and formatted again must read want; the bitmap is returned in map. */
static void round_trip(uint8_t *map, const char *text, const char *want)
{
	char out[64];
	size_t len;

	cr_assert(fs_portlist_parse(map, text), "\"%s\" refused", text);
	len = fs_portlist_format(out, sizeof(out), map);
	cr_assert_str_eq(out, want, "\"%s\" formats as \"%s\"", text, out);
	cr_assert_eq(len, strlen(want));
}

Test(portreserve, round_trips)
{
	static const struct {
		const char *text, *want;
		unsigned int ports;
	} cases[] = {
		{ "", "", 0 },
		{ "\n", "", 0 },
		{ "1", "1", 1 },
		{ "1-3", "1-3", 3 },
		{ "8080,40000-40999\n", "8080,40000-40999", 1001 },
		{ "1-2,3-4", "1-4", 4 },
		{ "1,2", "1-2", 2 },
		{ "5-5", "5", 1 },
		{ "65535", "65535", 1 },
		{ "65534-65535\n", "65534-65535", 2 },
		{ "0", "0", 1 },
		{ "  80,443\t\n", "80,443", 2 },
		{ "443,80,81", "80-81,443", 3 },
		{ "10-20,15-25", "10-25", 16 },
	};
	uint8_t *map = malloc(FS_PORT_BITMAP_BYTES);

	cr_assert_not_null(map);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
		round_trip(map, cases[i].text, cases[i].want);
		cr_assert_eq(count(map), cases[i].ports, "\"%s\": %u ports", cases[i].text,
			     count(map));
	}
	free(map);
}

Test(portreserve, parse_sets_exactly_the_listed_bits)
{
	uint8_t *map = malloc(FS_PORT_BITMAP_BYTES);

	cr_assert_not_null(map);
	memset(map, 0xff, FS_PORT_BITMAP_BYTES);	/* parse clears what was there */
	cr_assert(fs_portlist_parse(map, "8080,40000-40999\n"));
	cr_assert(has(map, 8080));
	cr_assert(!has(map, 8079));
	cr_assert(!has(map, 8081));
	cr_assert(!has(map, 39999));
	cr_assert(has(map, 40000));
	cr_assert(has(map, 40999));
	cr_assert(!has(map, 41000));
	cr_assert(!has(map, 0));
	cr_assert_eq(count(map), 1001);
	/* port p is bit p % 8 of byte p / 8 */
	cr_assert_eq(map[8080 / 8], 1u << (8080 % 8));
	free(map);
}

Test(portreserve, malformed_refused)
{
	static const char *const bad[] = {
		"70000", "65536", "5-3", "a", "1,,2", "-5", "1-", ",1", "1,", "1-2-3",
		"1 2", "1, 2", "0x10", "+5", "1-70000", "99999999999999999999", "8080;9090",
		"1-\n", "\n,\n",
	};
	uint8_t *map = malloc(FS_PORT_BITMAP_BYTES);

	cr_assert_not_null(map);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
		cr_assert(!fs_portlist_parse(map, bad[i]), "\"%s\" accepted", bad[i]);
	free(map);
}

Test(portreserve, everything_and_nothing)
{
	uint8_t *map = calloc(1, FS_PORT_BITMAP_BYTES);
	char out[16] = "x";

	cr_assert_not_null(map);
	cr_assert_eq(fs_portlist_format(out, sizeof(out), map), 0);
	cr_assert_str_eq(out, "");
	memset(map, 0xff, FS_PORT_BITMAP_BYTES);
	cr_assert_eq(fs_portlist_format(out, sizeof(out), map), strlen("0-65535"));
	cr_assert_str_eq(out, "0-65535");
	round_trip(map, "1-65535\n", "1-65535");
	cr_assert_eq(count(map), 65535);
	free(map);
}

Test(portreserve, truncation_returns_the_full_length)
{
	uint8_t *map = malloc(FS_PORT_BITMAP_BYTES);
	char out[8];

	cr_assert_not_null(map);
	cr_assert(fs_portlist_parse(map, "8080,40000-40999"));
	cr_assert_eq(fs_portlist_format(NULL, 0, map), 16);

	memset(out, '#', sizeof(out));
	cr_assert_eq(fs_portlist_format(out, 5, map), 16);
	cr_assert_str_eq(out, "8080");
	cr_assert_eq(out[5], '#', "wrote past outlen");

	memset(out, '#', sizeof(out));
	cr_assert_eq(fs_portlist_format(out, 8, map), 16);
	cr_assert_str_eq(out, "8080,40");

	memset(out, '#', sizeof(out));
	cr_assert_eq(fs_portlist_format(out, 1, map), 16);
	cr_assert_eq(out[0], '\0');
	cr_assert_eq(out[1], '#');
	free(map);
}

/* Every other port, the longest kind of list: its text is built here by hand. */
Test(portreserve, alternating_ports_long_list)
{
	uint8_t *map = calloc(1, FS_PORT_BITMAP_BYTES);
	uint8_t *back = malloc(FS_PORT_BITMAP_BYTES);
	size_t want_len = 0, len;
	char *want, *out;

	cr_assert_not_null(map);
	cr_assert_not_null(back);
	for (unsigned int p = 1; p < 65536; p += 2) {
		map[p / 8] |= 1u << (p % 8);
		want_len += (size_t)snprintf(NULL, 0, "%u", p) + (p > 1);
	}
	want = malloc(want_len + 1);
	cr_assert_not_null(want);
	want[0] = '\0';
	for (unsigned int p = 1, at = 0; p < 65536; p += 2)
		at += (unsigned int)sprintf(want + at, p > 1 ? ",%u" : "%u", p);

	len = fs_portlist_format(NULL, 0, map);
	cr_assert_eq(len, want_len);
	/* 5 + 45 * 2 + 450 * 3 + 4500 * 4 + 27768 * 5 digits, 32767 commas */
	cr_assert_eq(len, 191052);
	out = malloc(len + 1);
	cr_assert_not_null(out);
	cr_assert_eq(fs_portlist_format(out, len + 1, map), len);
	cr_assert_str_eq(out, want);
	cr_assert_lt(len, (size_t)FS_PORTLIST_TEXT_MAX);

	cr_assert(fs_portlist_parse(back, out));
	cr_assert_eq(memcmp(back, map, FS_PORT_BITMAP_BYTES), 0);
	free(out);
	free(want);
	free(back);
	free(map);
}

/* --- against a file standing in for the sysctl ------------------------------------------- */

struct tmpfile {
	char path[64];
};

static void file_make(struct tmpfile *f, const char *content)
{
	int fd;

	snprintf(f->path, sizeof(f->path), "/tmp/fs-portreserve-XXXXXX");
	fd = mkstemp(f->path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* The file's content; the caller frees it. */
static char *file_read(const char *path)
{
	FILE *fp = fopen(path, "r");
	size_t size = 1 << 20, len;
	char *buf = malloc(size);

	cr_assert_not_null(fp, "%s: %s", path, strerror(errno));
	cr_assert_not_null(buf);
	len = fread(buf, 1, size - 1, fp);
	buf[len] = '\0';
	fclose(fp);
	return buf;
}

static void file_assert(const char *path, const char *want)
{
	char *got = file_read(path);

	cr_assert_str_eq(got, want);
	free(got);
}

Test(portreserve_file, reserve_then_release_gives_back_only_ours)
{
	static const char original[] = "8080,40005,50000-50010\n";
	struct tmpfile f;
	uint8_t added[2] = { 0xaa, 0xaa };

	file_make(&f, original);
	cr_assert_eq(fs_ports_reserve(f.path, 40000, 40009, added), 0);
	file_assert(f.path, "8080,40000-40009,50000-50010\n");
	/* ports 40000..40009 are bits 0..9; 40005 (bit 5) was someone else's */
	cr_assert_eq(added[0], 0xdf, "added[0] = %#x", added[0]);
	cr_assert_eq(added[1], 0x03, "added[1] = %#x", added[1]);

	cr_assert_eq(fs_ports_release(f.path, 40000, 40009, added), 0);
	file_assert(f.path, original);
	unlink(f.path);
}

Test(portreserve_file, range_touching_others_merges_and_splits_back)
{
	static const char original[] = "39990-40000,40010\n";
	struct tmpfile f;
	uint8_t added[2];

	file_make(&f, original);
	cr_assert_eq(fs_ports_reserve(f.path, 40000, 40009, added), 0);
	file_assert(f.path, "39990-40010\n");
	cr_assert_eq(added[0], 0xfe);		/* 40000 was there already */
	cr_assert_eq(added[1], 0x03);
	cr_assert_eq(fs_ports_release(f.path, 40000, 40009, added), 0);
	file_assert(f.path, original);
	unlink(f.path);
}

Test(portreserve_file, all_reserved_already_takes_nothing)
{
	static const char original[] = "1000-2000\n";
	struct tmpfile f;
	uint8_t added[2] = { 0xff, 0xff };
	struct stat before, after;

	file_make(&f, original);
	cr_assert_eq(stat(f.path, &before), 0);
	cr_assert_eq(fs_ports_reserve(f.path, 1500, 1509, added), 0);
	cr_assert_eq(added[0], 0);
	cr_assert_eq(added[1], 0);
	cr_assert_eq(fs_ports_release(f.path, 1500, 1509, added), 0);
	file_assert(f.path, original);
	cr_assert_eq(stat(f.path, &after), 0);
	/* neither call wrote: a truncation or a write would have moved mtime */
	cr_assert_eq(after.st_size, before.st_size);
	cr_assert_eq(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	cr_assert_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	unlink(f.path);
}

Test(portreserve_file, empty_list_and_whole_range)
{
	struct tmpfile f;
	uint8_t *added = malloc(65535 / 8 + 1);

	cr_assert_not_null(added);
	file_make(&f, "\n");
	cr_assert_eq(fs_ports_reserve(f.path, 1, 65535, added), 0);
	file_assert(f.path, "1-65535\n");
	for (unsigned int i = 0; i < 65535; ++i)
		cr_assert(has(added, i), "port %u not marked", i + 1);
	cr_assert_eq(fs_ports_release(f.path, 1, 65535, added), 0);
	file_assert(f.path, "\n");
	free(added);
	unlink(f.path);
}

/* A list far longer than a page, as the kernel would write it, comes back exactly. */
Test(portreserve_file, long_list_comes_back_exactly)
{
	uint8_t *map = calloc(1, FS_PORT_BITMAP_BYTES);
	uint8_t added[2];
	struct tmpfile f;
	char *original;
	size_t len;

	cr_assert_not_null(map);
	for (unsigned int p = 2; p < 65536; p += 2)
		map[p / 8] |= 1u << (p % 8);
	len = fs_portlist_format(NULL, 0, map);
	original = malloc(len + 2);
	cr_assert_not_null(original);
	fs_portlist_format(original, len + 1, map);
	strcpy(original + len, "\n");

	file_make(&f, original);
	cr_assert_eq(fs_ports_reserve(f.path, 40000, 40009, added), 0);
	cr_assert_eq(added[0], 0xaa);		/* the odd ports 40001, 40003, ... */
	cr_assert_eq(added[1], 0x02);
	{
		char *mid = file_read(f.path);

		cr_assert_not_null(strstr(mid, ",39998,40000-40010,40012,"));
		free(mid);
	}
	cr_assert_eq(fs_ports_release(f.path, 40000, 40009, added), 0);
	file_assert(f.path, original);
	free(original);
	free(map);
	unlink(f.path);
}

Test(portreserve_file, invalid_range_refused)
{
	static const char original[] = "8080\n";
	struct tmpfile f;
	uint8_t added[2] = { 0x5a, 0x5a };

	file_make(&f, original);
	cr_assert_eq(fs_ports_reserve(f.path, 0, 10, added), -EINVAL);
	cr_assert_eq(fs_ports_reserve(f.path, 0, 0, added), -EINVAL);
	cr_assert_eq(fs_ports_reserve(f.path, 40010, 40000, added), -EINVAL);
	cr_assert_eq(added[0], 0x5a, "added touched on a refused range");
	cr_assert_eq(fs_ports_release(f.path, 0, 10, added), -EINVAL);
	cr_assert_eq(fs_ports_release(f.path, 9000, 8000, added), -EINVAL);
	file_assert(f.path, original);
	unlink(f.path);
}

Test(portreserve_file, malformed_file_refused_unchanged)
{
	static const char original[] = "8080,garbage\n";
	struct tmpfile f;
	uint8_t added[2] = { 0x5a, 0x5a };

	file_make(&f, original);
	cr_assert_eq(fs_ports_reserve(f.path, 40000, 40009, added), -EINVAL);
	cr_assert_eq(added[0], 0);
	cr_assert_eq(added[1], 0);
	cr_assert_eq(fs_ports_release(f.path, 40000, 40009, added), -EINVAL);
	file_assert(f.path, original);
	unlink(f.path);
}

Test(portreserve_file, missing_file_leaves_nothing)
{
	char dir[] = "/tmp/fs-portreserve-dir-XXXXXX";
	char path[64];
	uint8_t added[2] = { 0x5a, 0x5a };
	struct stat st;

	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ip_local_reserved_ports", dir);
	cr_assert_eq(fs_ports_reserve(path, 40000, 40009, added), -ENOENT);
	cr_assert_eq(added[0], 0);
	cr_assert_eq(added[1], 0);
	cr_assert_eq(stat(path, &st), -1, "the file was created");
	cr_assert_eq(errno, ENOENT);
	cr_assert_eq(fs_ports_release(path, 40000, 40009, added), -ENOENT);
	cr_assert_eq(fs_ports_reserve(dir, 40000, 40009, added), -EISDIR);
	cr_assert_eq(rmdir(dir), 0, "rmdir: %s", strerror(errno));
}

/* Longer than any list the kernel writes: refused, not read in part. */
Test(portreserve_file, oversized_file_refused)
{
	size_t n = FS_PORTLIST_TEXT_MAX;
	char *content = malloc(n + sizeof("8080\n"));
	uint8_t added[2];
	struct tmpfile f;

	cr_assert_not_null(content);
	memset(content, ' ', n);
	strcpy(content + n, "8080\n");
	file_make(&f, content);
	cr_assert_eq(fs_ports_reserve(f.path, 40000, 40009, added), -EINVAL);
	file_assert(f.path, content);
	free(content);
	unlink(f.path);
}
