/* Test daemons (tests/peers): real third-party programs and openmcim's own
 * started in the background on fresh directories, waited for with time
 * bounds, and stopped by PID (at exit too, whatever failed). */
#ifndef OMC_TEST_DAEMON_H
#define OMC_TEST_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TD_MAX 16

typedef struct td_proc {
	pid_t pid;
	char name[32];
	char log[512]; /* stdout and stderr, both */
} td_proc;

/* A fresh directory under /tmp (removed by td_cleanup). */
const char *td_dir(const char *tag);
/* dir/name into p (fails the test if too long). */
void td_path(char *p, size_t cap, const char *name);
/* Start argv (NULL-terminated, argv[0] a path or a name on PATH) with
 * stdin /dev/null and stdout+stderr into dir/<name>.log; env "K=V"
 * strings (NULL-terminated, may be NULL) are added. */
td_proc *td_start(const char *name, const char *const *argv, const char *const *env);
/* Wait up to ms for text in p's log; false (and the log on stderr) if it
 * does not come or p exits. */
bool td_wait_log(td_proc *p, const char *text, int ms);
/* Wait up to ms for a path to exist. */
bool td_wait_path(const char *path, int ms);
/* The whole log, NUL-terminated, in buf. */
void td_read_log(const td_proc *p, char *buf, size_t cap);
/* SIGTERM, up to 10 s, then SIGKILL; the exit status. */
int td_stop(td_proc *p);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
unsigned td_free_port(void);
/* Stop every process still running, remove the directory. Runs at exit. */
void td_cleanup(void);
/* Whether a file holds text, case-insensitive, spaces in the file ignored
 * (the K/OPc canary over logs, APDU traces included). */
bool td_file_has(const char *path, const char *text);

#endif
