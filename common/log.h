/* sg_log: one line per event on stderr, journald and syslog friendly.
 *
 * Lines look like "sandgated[1234]: warning: sandbox 0a1b2c3d4e5f: ..." and
 * never carry secret values: callers pass names, not contents. */
#ifndef SG_LOG_H
#define SG_LOG_H

enum sg_log_level {
	SG_LOG_ERR = 3,
	SG_LOG_WARNING = 4,
	SG_LOG_INFO = 6,
	SG_LOG_DEBUG = 7,
};

/* Sets the program name shown in each line and the most verbose level
 * printed (SG_LOG_INFO unless changed). When stderr is the stream systemd
 * named in JOURNAL_STREAM, each line starts with "<N>", its priority, for
 * journald (sd-daemon(3)); elsewhere lines are plain. */
void sg_log_init(const char *progname, int max_level);
/* The max_level given to sg_log_init(). */
int sg_log_level(void);
void sg_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sends each line (level, and the text after "prog[pid]: level: ")
 * somewhere else: fn returns 0 once it took the line, <0 to have it
 * printed on stderr as usual. NULL restores stderr. Used by the boxed
 * processes, whose stderr may be a file they must not write. */
void sg_log_set_sink(int (*fn)(int level, const char *text));

#define sg_err(...)	sg_log(SG_LOG_ERR, __VA_ARGS__)
#define sg_warn(...)	sg_log(SG_LOG_WARNING, __VA_ARGS__)
#define sg_info(...)	sg_log(SG_LOG_INFO, __VA_ARGS__)
#define sg_debug(...)	sg_log(SG_LOG_DEBUG, __VA_ARGS__)

#endif
