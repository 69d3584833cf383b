/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Logging as wireguard-go does it: LOG_LEVEL=verbose|debug, error, silent
 * (default error). To stderr in the foreground, to syslog once daemonized.
 */
#ifndef FLOWSPREAD_LOG_H
#define FLOWSPREAD_LOG_H

#include <stdbool.h>

enum fs_log_level {
	FS_LOG_SILENT = 0,
	FS_LOG_ERROR = 1,
	FS_LOG_VERBOSE = 2,
};

/*
 * Sets the level from LOG_LEVEL's value (NULL or empty: error). A value
 * that names no level sets error, as wireguard-go does, and returns false.
 */
bool fs_log_set_level(const char *level);
void fs_log_init(const char *ifname, bool use_syslog);
enum fs_log_level fs_log_level(void);

__attribute__((format(printf, 1, 2))) void fs_log_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void fs_log_verbose(const char *fmt, ...);

#define fs_log_debug(...) do { if (fs_log_level() >= FS_LOG_VERBOSE) fs_log_verbose(__VA_ARGS__); } while (0)

#endif
