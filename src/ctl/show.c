// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * show [IFNAME | all | interfaces] [--json]: wg show's pretty output (or
 * one JSON object), extension keys included. Without an interface, or with
 * "all", every interface with a live socket in /var/run/wireguard.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "print.h"
#include "subcommands.h"
#include "ipc.h"
#include "util.h"

void ctl_show_usage(FILE *f, const char *name)
{
	fprintf(f, "Usage: %s %s [<interface> | all | interfaces] [--json]\n", PROG_NAME, name);
}

/* Reads one interface; false (with the message on stderr) when it cannot be read. */
static bool get_one(struct ctl_device *dev, const char *ifname)
{
	char err[CTL_ERRLEN];

	ctl_device_init(dev);
	if (!ctl_uapi_get(dev, ifname, err, sizeof(err)))
		return true;
	ctl_error(err);
	ctl_device_free(dev);
	return false;
}

static void print_one(const struct ctl_device *dev, bool json, int indent)
{
	if (json)
		ctl_print_json(stdout, dev, ctl_show_keys(), indent);
	else
		ctl_print_pretty(stdout, dev, time(NULL), ctl_show_keys());
}

static int list_names(char ***names, size_t *n)
{
	char err[CTL_ERRLEN];
	int ret = ctl_uapi_list(names, n);

	if (ret) {
		snprintf(err, sizeof(err), "cannot list the interfaces in " CTL_UAPI_DIR ": %s",
			 strerror(-ret));
		ctl_error(err);
	}
	return ret;
}

static int show_interfaces(bool json)
{
	char **names;
	size_t n;

	if (list_names(&names, &n))
		return CTL_FAIL;
	if (json) {
		printf("{\n  \"interface_names\": [");
		for (size_t i = 0; i < n; ++i) {
			printf("%s\n    ", i ? "," : "");
			ctl_json_string(stdout, names[i]);
		}
		printf(n ? "\n  ]\n}\n" : "]\n}\n");
	} else {
		for (size_t i = 0; i < n; ++i)
			printf("%s%c", names[i], i + 1 < n ? ' ' : '\n');
	}
	ctl_uapi_list_free(names, n);
	return CTL_OK;
}

static int show_all(bool json)
{
	size_t n, shown = 0;
	bool ok = true;
	char **names;

	if (list_names(&names, &n))
		return CTL_FAIL;
	if (json)
		printf("{\n  \"interfaces\": [");
	for (size_t i = 0; i < n; ++i) {
		struct ctl_device dev;

		if (!get_one(&dev, names[i])) {
			ok = false;
			continue;
		}
		if (json)
			printf("%s\n    ", shown ? "," : "");
		else if (shown)
			printf("\n");
		print_one(&dev, json, 2);
		ctl_device_free(&dev);
		++shown;
	}
	if (json)
		printf(shown ? "\n  ]\n}\n" : "]\n}\n");
	ctl_uapi_list_free(names, n);
	return ok ? CTL_OK : CTL_FAIL;
}

int ctl_show_main(int argc, char *argv[])
{
	struct ctl_device dev;
	const char *what = NULL;
	bool json = false;

	for (int i = 1; i < argc; ++i) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "help")) {
			ctl_show_usage(stdout, argv[0]);
			return CTL_OK;
		} else if (!what) {
			what = argv[i];
		} else {
			fprintf(stderr, PROG_NAME ": %s: unexpected argument \"%s\"\n", argv[0], argv[i]);
			ctl_show_usage(stderr, argv[0]);
			return CTL_USAGE;
		}
	}
	if (!what || !strcmp(what, "all"))
		return show_all(json);
	if (!strcmp(what, "interfaces"))
		return show_interfaces(json);
	if (!get_one(&dev, what))
		return CTL_FAIL;
	print_one(&dev, json, 0);
	if (json)
		printf("\n");
	ctl_device_free(&dev);
	return CTL_OK;
}
