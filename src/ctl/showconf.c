// SPDX-License-Identifier: GPL-2.0-or-later
/* showconf IFNAME: the running configuration as a config file, extension keys included. */
#include <string.h>
#include "print.h"
#include "subcommands.h"
#include "ipc.h"
#include "util.h"

void ctl_showconf_usage(FILE *f, const char *name)
{
	fprintf(f, "Usage: %s %s <interface>\n", PROG_NAME, name);
}

int ctl_showconf_main(int argc, char *argv[])
{
	char err[CTL_ERRLEN];
	struct ctl_device dev;
	int ret = CTL_OK;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		ctl_showconf_usage(stdout, argv[0]);
		return CTL_OK;
	}
	if (argc != 2) {
		ctl_showconf_usage(stderr, argv[0]);
		return CTL_USAGE;
	}
	ctl_device_init(&dev);
	if (ctl_uapi_get(&dev, argv[1], err, sizeof(err))) {
		ctl_error(err);
		ret = CTL_FAIL;
	} else {
		ctl_print_conf(stdout, &dev);
	}
	ctl_device_free(&dev);
	return ret;
}
