/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowspreadctl's subcommands, one file each, as wg's. Each takes its own
 * name as argv[0] and returns an exit status (enum ctl_status: 0 done,
 * 1 failed, 2 usage error).
 */
#ifndef FLOWSPREAD_CTL_SUBCOMMANDS_H
#define FLOWSPREAD_CTL_SUBCOMMANDS_H

#include <stdio.h>
#include "containers.h"

int ctl_show_main(int argc, char *argv[]);
int ctl_showconf_main(int argc, char *argv[]);
int ctl_set_main(int argc, char *argv[]);
int ctl_setconf_main(int argc, char *argv[]);	/* also addconf and syncconf */

void ctl_show_usage(FILE *f, const char *name);
void ctl_showconf_usage(FILE *f, const char *name);
void ctl_set_usage(FILE *f, const char *name);
void ctl_setconf_usage(FILE *f, const char *name);

/* set's arguments after the interface name, into the empty *dev. */
enum ctl_status ctl_set_parse_args(struct ctl_device *dev, int argc, char *argv[], char *err,
				   size_t errlen);

#endif
