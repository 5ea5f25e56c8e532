/* watch: waiting for the workspace to change (inotify), for --watch. */
#ifndef CAIRN_WATCH_H
#define CAIRN_WATCH_H

struct watcher;

/* Watch every directory under the cwd but cairn-out and hidden ones.
 * NULL with errno when inotify is not available. */
struct watcher *watch_new(void);
/* Block until something changes, then until nothing has for quiet_ms.
 * 1: changed; 0: interrupted (SIGINT/SIGTERM); -1: error. */
int watch_wait(struct watcher *w, int quiet_ms);
void watch_free(struct watcher *w);

#endif
