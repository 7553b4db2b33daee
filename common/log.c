/* sg_log: see log.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static const char *log_prog = "sandgate";
static int log_max = SG_LOG_INFO;
static int (*log_sink)(int, const char *);

void
sg_log_set_sink(int (*fn)(int level, const char *text))
{
	log_sink = fn;
}

void
sg_log_init(const char *progname, int max_level)
{
	log_prog = progname;
	log_max = max_level;
}

void
sg_log(int level, const char *fmt, ...)
{
	char line[1024];
	const char *tag;
	va_list ap;
	size_t i;
	int n;

	if (level > log_max)
		return;
	switch (level) {
	case SG_LOG_ERR: tag = "error: "; break;
	case SG_LOG_WARNING: tag = "warning: "; break;
	case SG_LOG_DEBUG: tag = "debug: "; break;
	default: tag = ""; break;
	}
	n = snprintf(line, sizeof(line), "%s[%ld]: %s", log_prog,
	    (long)getpid(), tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One event, one line: control characters from peers are masked. */
	for (i = (size_t)n; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (log_sink != NULL && log_sink(level, line + n) == 0)
		return;
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}
