/* sg_log: see log.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "common/log.h"

static const char *log_prog = "sandgate";
static int log_max = SG_LOG_INFO;
static int (*log_sink)(int, const char *);
static int log_journal;	/* stderr is journald's stream: "<N>" prefixes */

/* systemd sets JOURNAL_STREAM=DEV:INODE to the stream it gave a service
 * as stdout/stderr; a line that starts with "<N>" there gets priority N
 * (sd-daemon(3)). Only when stderr is still that stream: a program
 * started from such a service with stderr elsewhere gets plain lines. */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

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
	log_journal = stderr_is_journal();
}

int
sg_log_level(void)
{
	return log_max;
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
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "%s\n", line);
	fflush(stderr);
}
