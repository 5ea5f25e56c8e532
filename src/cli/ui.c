/* ui: terminal output and the --events stream. Output of a finished
 * action is written in one fwrite after its header, so two actions never
 * interleave. */
#include "cli/ui.h"
#include "util/json.h"
#include "util/str.h"
#include "util/util.h"
#include <stdlib.h>
#include <string.h>

static const char *status_name(enum act_status s)
{
	switch (s) {
	case AS_EXECUTED: return "executed";
	case AS_CACHED: case AS_UPTODATE: return "cached";
	case AS_FAILED: return "failed";
	case AS_WOULD_RUN: return "would_run";
	default: return "skipped";
	}
}

/* Where an action's result came from, for --events: it ran here (all
 * actions run locally today), or came from the local store or a remote
 * cache. */
static const char *where_name(const struct sched_event *ev)
{
	if (ev->status == AS_CACHED || ev->status == AS_UPTODATE)
		return ev->remote_hit ? "remote-cache" : "local-cache";
	return ev->remote_run ? "remote" : "local";
}

char *ui_command(const struct action *a)
{
	struct buf b = {0};
	for (size_t i = 0; i < a->argc; i++) {
		const char *s = a->argv[i];
		if (i)
			buf_putc(&b, ' ');
		if (*s && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                    "0123456789_-./=:,+@%") == strlen(s)) {
			buf_puts(&b, s);
			continue;
		}
		buf_putc(&b, '\'');
		for (; *s; s++) {
			if (*s == '\'')
				buf_puts(&b, "'\\''");
			else
				buf_putc(&b, *s);
		}
		buf_putc(&b, '\'');
	}
	return buf_take(&b);
}

void ui_clear(struct ui *u)
{
	if (u->tty && u->line_dirty) {
		fputs("\r\x1b[K", stdout);
		u->line_dirty = 0;
	}
}

static void status_line(struct ui *u, const struct action *a, const struct sched_counts *c)
{
	unsigned pct = c->total ? (unsigned)(c->done * 100 / c->total) : 100;
	if (u->tty) {
		printf("\r[%4zu/%zu] %u%% %s %s  (cached %zu)\x1b[K", c->done, c->total, pct,
		       a->mnemonic, a->progress ? a->progress : a->label, c->cached);
		u->line_dirty = 1;
	} else {
		printf("[%4zu/%zu] %s %s\n", c->done, c->total, a->mnemonic,
		       a->progress ? a->progress : a->label);
	}
	fflush(stdout);
}

static void on_started(void *ctx, const struct action *a, const struct sched_counts *c)
{
	struct ui *u = ctx;
	if (u->tty)
		status_line(u, a, c);
}

static void on_finished(void *ctx, const struct sched_event *ev)
{
	struct ui *u = ctx;
	const struct action *a = ev->a;
	int ran = ev->status == AS_EXECUTED || ev->status == AS_FAILED;
	if ((u->explain || u->plan) && ev->reason &&
	    (ran || ev->status == AS_WOULD_RUN)) {
		ui_clear(u);
		printf("%s%s %s: %s\n", u->plan ? "" : "explain: ", a->label, a->mnemonic, ev->reason);
	} else if (u->explain && ev->status == AS_CACHED && ev->remote_hit) {
		ui_clear(u);
		printf("explain: %s %s: remote cache hit\n", a->label, a->mnemonic);
	}
	int is_test = (a->flags & ACT_TEST) != 0;
	if (is_test)
		ui_test_finished(u, ev);
	int quiet = is_test && u->test_output && !strcmp(u->test_output, "summary");
	if (ev->status == AS_FAILED && quiet) {
		ui_clear(u);
		printf("FAILED: %s (see %s)\n", ev->a->progress ? ev->a->progress : a->label,
		       a->outputs[0]->path);
	} else if (ev->status == AS_FAILED) {
		ui_clear(u);
		char *cmd = ui_command(a);
		struct buf b = {0};
		if (ev->timed_out)
			buf_printf(&b, "%sTIMEOUT:%s %s %s (killed after %.1f s)\n%s\n",
			           u->color ? "\x1b[31;1m" : "", u->color ? "\x1b[0m" : "", a->label,
			           a->mnemonic, (double)(ev->end_ns - ev->start_ns) / 1e9, cmd);
		else
			buf_printf(&b, "%sFAILED:%s %s %s (exit %d)\n%s\n", u->color ? "\x1b[31;1m" : "",
			           u->color ? "\x1b[0m" : "", a->label, a->mnemonic, ev->exit_code, cmd);
		buf_putn(&b, ev->output, ev->outlen);
		if (ev->outlen && ev->output[ev->outlen - 1] != '\n')
			buf_putc(&b, '\n');
		fwrite(b.s, 1, b.len, stdout);
		buf_free(&b);
		free(cmd);
	} else if (ev->status == AS_EXECUTED) {
		if (u->verbose) {
			ui_clear(u);
			char *cmd = ui_command(a);
			printf("%s\n", cmd);
			free(cmd);
		}
		status_line(u, a, ev->counts);
		int show = !is_test || (u->test_output && !strcmp(u->test_output, "all"));
		if (ev->outlen && show) {
			ui_clear(u);
			fwrite(ev->output, 1, ev->outlen, stdout);
			if (ev->output[ev->outlen - 1] != '\n')
				fputc('\n', stdout);
		}
	} else if (u->tty && (ev->counts->done % 64 == 0 || ev->counts->done == ev->counts->total)) {
		status_line(u, a, ev->counts);
	}
	if (u->events && ev->status != AS_WOULD_RUN && ev->status != AS_SKIPPED) {
		struct buf b = {0};
		char hex[65];
		digest_hex(&ev->key, hex);
		buf_puts(&b, "{\"type\":\"action\",\"label\":");
		json_str(&b, a->label);
		buf_puts(&b, ",\"mnemonic\":");
		json_str(&b, a->mnemonic);
		buf_printf(&b, ",\"status\":\"%s\",\"where\":\"%s\",\"key\":\"%s\",\"ms\":%llu",
		           status_name(ev->status), where_name(ev), hex,
		           (unsigned long long)((ev->end_ns - ev->start_ns) / 1000000));
		if (ev->reason) {
			buf_puts(&b, ",\"reason\":");
			json_str(&b, ev->reason);
		}
		buf_puts(&b, "}\n");
		fwrite(b.s, 1, b.len, u->events);
		buf_free(&b);
	}
	if (u->trace && ev->end_ns)
		trace_span(u->trace, a->label, a->mnemonic, ev->start_ns, ev->end_ns, u->t0);
}

void ui_free(struct ui *u)
{
	free(u->rows);
	u->rows = NULL;
	u->nrows = u->caprows = 0;
}

struct sched_observer ui_observer(struct ui *u)
{
	return (struct sched_observer){.ctx = u, .started = on_started, .finished = on_finished};
}

void ui_summary(struct ui *u, const struct sched_counts *c)
{
	ui_clear(u);
	uint64_t ms = (now_ns() - u->t0) / 1000000;
	char remote[48] = "", rexec[48] = "";
	if (u->remote)
		snprintf(remote, sizeof remote, " (%zu remote)", u->remote_hits);
	if (u->remote_exec)
		snprintf(rexec, sizeof rexec, " (%zu remote)", c->remote_executed);
	printf("cairn: %zu actions: %zu executed%s, %zu cached%s, %zu failed in %.2f s\n", c->total,
	       c->executed, rexec, c->cached, remote, c->failed, (double)ms / 1000.0);
	fflush(stdout);
	if (u->events) {
		fprintf(u->events,
		        "{\"type\":\"summary\",\"total\":%zu,\"executed\":%zu,\"cached\":%zu,"
		        "\"failed\":%zu,\"ms\":%llu",
		        c->total, c->executed, c->cached, c->failed, (unsigned long long)ms);
		if (u->remote)
			fprintf(u->events,
			        ",\"remote_cached\":%zu,\"remote_executed\":%zu,\"rpcs\":%zu,\"bytes_down\":%llu",
			        u->remote_hits, c->remote_executed, u->rpcs, u->bytes_in);
		fputs("}\n", u->events);
		fflush(u->events);
	}
}
