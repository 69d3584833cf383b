/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drives the prefix guard for tests/netns/guard.sh:
 *
 *   nl-guard install IFNAME PREFIX LOW-HIGH[,LOW-HIGH...]
 *   nl-guard remove IFNAME PREFIX LOW-HIGH[,...]   (install, then remove: one process)
 *   nl-guard cleanup IFNAME
 *   nl-guard check PREFIX
 *   nl-guard table IFNAME
 *
 * "install" leaves the guard in place and exits, as a crashed daemon
 * would; "remove" installs and removes in one run (remove deletes exactly
 * what its install put in place). Exit 0 done, 1 refused or failed, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "netlink.h"

static int usage(void)
{
	fprintf(stderr, "usage: nl-guard install|remove IFNAME PREFIX LOW-HIGH[,LOW-HIGH...]\n"
			"       nl-guard cleanup|table IFNAME\n"
			"       nl-guard check PREFIX\n");
	return 2;
}

static bool parse_ranges(struct fs_guard *guard, const char *text)
{
	const char *p = text;

	while (*p) {
		struct fs_port_range *range = &guard->ranges[guard->n_ranges];
		unsigned long low, high;
		char *end;

		if (guard->n_ranges == FS_GUARD_MAX_RANGES)
			return false;
		low = strtoul(p, &end, 10);
		high = low;
		if (*end == '-')
			high = strtoul(end + 1, &end, 10);
		if (end == p || (*end && *end != ',') || !low || low > high || high > 65535) {
			fprintf(stderr, "nl-guard: invalid port range in \"%s\"\n", text);
			return false;
		}
		range->low = (uint16_t)low;
		range->high = (uint16_t)high;
		guard->n_ranges++;
		p = *end ? end + 1 : end;
	}
	return guard->n_ranges > 0;
}

static bool parse_guard(struct fs_guard *guard, char **argv)
{
	char err[FS_ERRLEN];

	memset(guard, 0, sizeof(*guard));
	if (strlen(argv[0]) >= sizeof(guard->ifname)) {
		fprintf(stderr, "nl-guard: interface name too long: %s\n", argv[0]);
		return false;
	}
	strcpy(guard->ifname, argv[0]);
	if (!fs_prefix_parse(&guard->prefix, argv[1], err, sizeof(err))) {
		fprintf(stderr, "nl-guard: %s\n", err);
		return false;
	}
	return parse_ranges(guard, argv[2]);
}

static int install(char **argv, bool then_remove)
{
	char err[FS_ERRLEN];
	struct fs_guard guard;

	if (!parse_guard(&guard, argv))
		return 1;
	if (fs_guard_install(&guard, err, sizeof(err))) {
		fprintf(stderr, "nl-guard: %s\n", err);
		return 1;
	}
	if (then_remove && fs_guard_remove(&guard, err, sizeof(err))) {
		fprintf(stderr, "nl-guard: %s\n", err);
		return 1;
	}
	return 0;
}

static int check(const char *text)
{
	struct fs_prefix prefix;
	char err[FS_ERRLEN];

	if (!fs_prefix_parse(&prefix, text, err, sizeof(err))) {
		fprintf(stderr, "nl-guard: %s\n", err);
		return 2;
	}
	if (fs_guard_check(&prefix, err, sizeof(err))) {
		printf("%s\n", err);
		return 1;
	}
	printf("%s: no overlap\n", text);
	return 0;
}

int main(int argc, char **argv)
{
	char err[FS_ERRLEN];

	if (argc == 5 && !strcmp(argv[1], "install"))
		return install(argv + 2, false);
	if (argc == 5 && !strcmp(argv[1], "remove"))
		return install(argv + 2, true);
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "table")) {
		printf("%u\n", fs_guard_table(argv[2]));
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "cleanup")) {
		if (fs_guard_cleanup(argv[2], err, sizeof(err))) {
			fprintf(stderr, "nl-guard: %s\n", err);
			return 1;
		}
		return 0;
	}
	return usage();
}
