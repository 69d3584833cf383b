// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "log.h"

static enum fs_log_level level = FS_LOG_ERROR;
static bool to_syslog;
static char name[64];

/* As wireguard-go: anything but verbose, debug or silent means error. */
bool fs_log_set_level(const char *text)
{
	level = FS_LOG_ERROR;
	if (!text || !*text || !strcmp(text, "error"))
		return true;
	if (!strcmp(text, "verbose") || !strcmp(text, "debug"))
		level = FS_LOG_VERBOSE;
	else if (!strcmp(text, "silent"))
		level = FS_LOG_SILENT;
	else
		return false;
	return true;
}

void fs_log_init(const char *ifname, bool use_syslog)
{
	snprintf(name, sizeof(name), "(%s)", ifname);
	to_syslog = use_syslog;
	if (use_syslog)
		openlog("flowspreadd", LOG_PID, LOG_DAEMON);
}

enum fs_log_level fs_log_level(void)
{
	return level;
}

static void emit(enum fs_log_level at, const char *fmt, va_list ap)
{
	char line[1024];
	char stamp[32];
	struct tm tm;
	time_t now;

	if (level < at)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (to_syslog) {
		syslog(at == FS_LOG_ERROR ? LOG_ERR : LOG_DEBUG, "%s %s", name, line);
		return;
	}
	now = time(NULL);
	strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", localtime_r(&now, &tm));
	fprintf(stderr, "%s: %s %s %s\n", at == FS_LOG_ERROR ? "ERROR" : "DEBUG", name, stamp, line);
}

void fs_log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(FS_LOG_ERROR, fmt, ap);
	va_end(ap);
}

void fs_log_verbose(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(FS_LOG_VERBOSE, fmt, ap);
	va_end(ap);
}
