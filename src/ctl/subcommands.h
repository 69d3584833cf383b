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
int ctl_endpoints_main(int argc, char *argv[]);

void ctl_show_usage(FILE *f, const char *name);
void ctl_showconf_usage(FILE *f, const char *name);
void ctl_set_usage(FILE *f, const char *name);
void ctl_setconf_usage(FILE *f, const char *name);
void ctl_endpoints_usage(FILE *f, const char *name);

/* set's arguments after the interface name, into the empty *dev. */
enum ctl_status ctl_set_parse_args(struct ctl_device *dev, int argc, char *argv[], char *err,
				   size_t errlen);

/*
 * endpoints' output for dev (read by a get): every peer's endpoint table,
 * or only that of the peer with key peer_key (when not NULL); as JSON when
 * json. CTL_FAIL, with nothing written and a message naming the key in
 * err, when dev has no such peer.
 */
enum ctl_status ctl_endpoints_print(FILE *f, const struct ctl_device *dev,
				    const uint8_t *peer_key, bool json, char *err, size_t errlen);

#endif
