// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * setconf, addconf and syncconf IFNAME FILE, as wg's (see conf.h for the
 * file and sync.h for what syncconf sends). setconf and syncconf read the
 * running configuration first, to clear the extension settings the file
 * lacks; addconf sends only the file.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "subcommands.h"
#include "sync.h"
#include "ipc.h"
#include "util.h"

void ctl_setconf_usage(FILE *f, const char *name)
{
	fprintf(f, "Usage: %s %s <interface> <configuration filename>\n", PROG_NAME, name);
}

/*
 * setconf and syncconf: rewrites *file against the running configuration,
 * so that what the file lacks is cleared (see sync.h).
 */
static bool against_running(struct ctl_device *file, const char *ifname, bool sync, char *err,
			    size_t errlen)
{
	struct ctl_device running;
	bool ok = true;

	ctl_device_init(&running);
	if (ctl_uapi_get(&running, ifname, err, errlen)) {
		ctl_err_prefix(err, errlen, "cannot read the running configuration: ");
		ok = false;
	} else if (!sync) {
		ctl_sync_clear_device(file, &running);
	} else if (!ctl_sync_diff(file, &running)) {
		ok = ctl_fail(err, errlen, "out of memory");
	}
	ctl_device_free(&running);
	return ok;
}

int ctl_setconf_main(int argc, char *argv[])
{
	bool append = !strcmp(argv[0], "addconf");
	char err[CTL_ERRLEN], *text = NULL;
	struct ctl_device dev;
	int ret = CTL_FAIL;
	size_t len = 0;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		ctl_setconf_usage(stdout, argv[0]);
		return CTL_OK;
	}
	if (argc != 3) {
		ctl_setconf_usage(stderr, argv[0]);
		return CTL_USAGE;
	}
	ctl_device_init(&dev);
	if (!ctl_conf_read_file(&text, &len, argv[2], err, sizeof(err)) ||
	    !ctl_conf_parse(&dev, text, len, argv[2], append, err, sizeof(err)))
		goto out;
	if (!append && !against_running(&dev, argv[1], !strcmp(argv[0], "syncconf"), err,
					sizeof(err)))
		goto out;
	if (ctl_uapi_set(argv[1], &dev, err, sizeof(err)))
		goto out;
	ret = CTL_OK;
out:
	if (ret != CTL_OK)
		ctl_error(err);
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	ctl_device_free(&dev);
	return ret;
}
