/* watch: one inotify descriptor with a watch per directory. Directories
 * created later are added as their events arrive. The runner's signal
 * self-pipe is polled too, so Ctrl-C ends the wait at once. */
#include "exec/watch.h"
#include "exec/runner.h"
#include "util/fs.h"
#include "util/util.h"
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

struct watcher {
	int fd;          /* inotify */
	char **dirs;     /* by watch descriptor */
	size_t ndirs;
};

enum { MASK = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
              IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF };

static void add_tree(struct watcher *w, const char *dir)
{
	int wd = inotify_add_watch(w->fd, dir, MASK | IN_ONLYDIR);
	if (wd < 0)
		return;
	if ((size_t)wd >= w->ndirs) {
		size_t n = (size_t)wd + 64;
		w->dirs = xreallocarray(w->dirs, n, sizeof *w->dirs);
		memset(w->dirs + w->ndirs, 0, (n - w->ndirs) * sizeof *w->dirs);
		w->ndirs = n;
	}
	free(w->dirs[wd]);
	w->dirs[wd] = xstrdup(dir);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	int root = !strcmp(dir, ".");
	while ((e = readdir(d))) {
		if (fs_skip_dir(dir, e->d_name))
			continue;
		char *sub = root ? xstrdup(e->d_name) : xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
			add_tree(w, sub);
		free(sub);
	}
	closedir(d);
}

struct watcher *watch_new(void)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct watcher *w = xcalloc(1, sizeof *w);
	w->fd = fd;
	add_tree(w, ".");
	return w;
}

/* Read pending events; 1 if any concerns the workspace's sources. */
static int drain(struct watcher *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int relevant = 0;
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof buf);
		if (n <= 0)
			return relevant;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			const char *dir = ev->wd >= 0 && (size_t)ev->wd < w->ndirs ? w->dirs[ev->wd] : NULL;
			if (!dir || (ev->len && fs_skip_dir(dir, ev->name)))
				continue; /* hidden files (editors' swap files), .cairn, cairn-out */
			relevant = 1;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len) {
				char *sub = !strcmp(dir, ".") ? xstrdup(ev->name)
				                              : xasprintf("%s/%s", dir, ev->name);
				add_tree(w, sub);
				free(sub);
			}
		}
	}
}

int watch_wait(struct watcher *w, int quiet_ms)
{
	int changed = 0;
	for (;;) {
		if (runner_interrupted())
			return 0;
		struct pollfd p[2] = {{.fd = w->fd, .events = POLLIN},
		                      {.fd = runner_signal_fd(), .events = POLLIN}};
		int r = poll(p, 2, changed ? quiet_ms : -1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (runner_interrupted())
			return 0;
		if (r == 0)
			return 1; /* quiet long enough after a change */
		if (p[1].revents) {
			char tmp[64];
			while (read(p[1].fd, tmp, sizeof tmp) > 0) {
			}
		}
		if (p[0].revents && drain(w))
			changed = 1;
	}
}

void watch_free(struct watcher *w)
{
	if (!w)
		return;
	close(w->fd);
	for (size_t i = 0; i < w->ndirs; i++)
		free(w->dirs[i]);
	free(w->dirs);
	free(w);
}
