// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * flowspreadctl: shows and sets a flowspread (or any WireGuard userspace)
 * interface through its UAPI socket, like wg, extension keys included.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include "subcommands.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static const struct {
	const char *name;
	int (*main)(int argc, char *argv[]);
	const char *description;
} subcommands[] = {
	{ "show", ctl_show_main, "Shows the current configuration and state of interfaces" },
	{ "showconf", ctl_showconf_main, "Shows an interface's configuration as a config file" },
	{ "set", ctl_set_main, "Changes the current configuration of an interface" },
	{ "setconf", ctl_setconf_main, "Applies a config file, replacing the current configuration" },
	{ "addconf", ctl_setconf_main, "Adds a config file's settings to the current configuration" },
	{ "syncconf", ctl_setconf_main,
	  "Makes the configuration match a config file, keeping live sessions" },
	{ "endpoints", ctl_endpoints_main, "Shows each peer's endpoint table" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: %s <cmd> [<args>]\n\nAvailable subcommands:\n", PROG_NAME);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); ++i)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f, "\nWithout a subcommand, %s runs \"show\". "
		"Run \"%s <cmd> --help\" for a subcommand's arguments.\n", PROG_NAME, PROG_NAME);
}

int main(int argc, char *argv[])
{
	static char show[] = "show";
	char *show_argv[] = { show, NULL };

	if (sodium_init() < 0) {
		ctl_error("cannot initialise libsodium");
		return CTL_FAIL;
	}
	if (argc == 1)
		return ctl_show_main(1, show_argv);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return CTL_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
		printf("%s %s\n", PROG_NAME, PACKAGE_VERSION);
		return CTL_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); ++i)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].main(argc - 1, argv + 1);
	fprintf(stderr, PROG_NAME ": invalid subcommand \"%s\"\n", argv[1]);
	usage(stderr);
	return CTL_USAGE;
}
