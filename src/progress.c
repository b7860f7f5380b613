/* progress.c - the progress line (see progress.h). It costs nothing measurable: one clock read
 * per tensor group, a redraw at most every 100 ms, one ioctl per redraw. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"
#include "text.h"

static volatile sig_atomic_t resized; /* bumped by SIGWINCH: redraw at the next step */
static struct sigaction old_winch;
static int winch_installed;

static void on_winch(int sig)
{
	(void)sig;
	resized++;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *hms(double s, char *buf, size_t n)
{
	if (!(s >= 0) || s > 359999) /* NaN, negative, or 100 hours and more: not worth a number */
		snprintf(buf, n, "-:--:--");
	else
		snprintf(buf, n, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
	return buf;
}

static int term_cols(void)
{
	struct winsize ws;
	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* name into at most w columns: the head, "...", the tail (the layer index and the leaf name
 * are what tell tensors apart). */
static void shorten(char *out, size_t n, const char *name, int w)
{
	size_t len = strlen(name);
	if (w <= 0 || n == 0) {
		if (n)
			out[0] = '\0';
		return;
	}
	if ((int)len <= w) {
		snprintf(out, n, "%s", name);
		return;
	}
	if (w < 8) {
		snprintf(out, n, "%.*s", w, name);
		return;
	}
	int tail = (w - 3) * 2 / 3, head = w - 3 - tail;
	snprintf(out, n, "%.*s...%s", head, name, name + len - (size_t)tail);
}

void progress_format(char *buf, size_t n, int cols, const char *label, const char *name, size_t done, size_t total,
	uint64_t bytes, uint64_t total_bytes, double el)
{
	char cnt[48], r[32], eta[16], tname[512], bar[128];
	double frac = total_bytes ? (double)bytes / (double)total_bytes : total ? (double)done / (double)total : 1;
	double rate = el > 0 ? (double)bytes / el : 0;
	int w = cols - 1; /* the last column would make some terminals wrap */
	frac = frac > 1 ? 1 : frac < 0 ? 0 : frac;
	snprintf(cnt, sizeof cnt, "%zu/%zu", done, total);
	text_human_bytes(rate, r, sizeof r);
	hms(rate > 0 ? (double)(total_bytes - bytes) / rate : -1, eta, sizeof eta);
	/* the parts by importance: label and percentage; ETA; tensors; rate; bar; name */
	char head[160], tail[96];
	int hl = snprintf(head, sizeof head, "%.40s %3d%%", label, (int)(frac * 100));
	int tl = snprintf(tail, sizeof tail, "  %s  %s/s  ETA %s", cnt, r, eta);
	if (hl + tl > w)
		tl = snprintf(tail, sizeof tail, "  ETA %s", eta);
	if (hl + tl > w)
		tl = 0, tail[0] = '\0';
	if (hl > w)
		hl = w > 0 ? w : 0, head[hl] = '\0';
	int room = w - hl - tl, bw = 0;
	bar[0] = tname[0] = '\0';
	if (room >= 40) { /* a bar of a fifth of what is left (at most 24), the rest for the name */
		bw = room / 5 > 24 ? 24 : room / 5;
		int fill = (int)(frac * (bw - 3) + 0.5);
		bar[0] = ' ', bar[1] = '[';
		for (int i = 0; i < bw - 3; i++)
			bar[2 + i] = i < fill ? '=' : ' ';
		bar[bw - 1] = ']';
		bar[bw] = '\0';
		room -= bw;
	}
	if (name && room >= 10)
		shorten(tname, sizeof tname, name, room - 2);
	snprintf(buf, n, "%s%s%s%s%s", head, bar, tname[0] ? "  " : "", tname, tail);
}

void progress_begin(progress *p, const char *label, uint64_t total_bytes, int off, progress_name_fn name,
	const void *name_ctx)
{
	memset(p, 0, sizeof *p);
	p->tty = isatty(2);
	p->off = off;
	p->label = label;
	p->total_bytes = total_bytes;
	p->start = p->last = now();
	p->name = name;
	p->name_ctx = name_ctx;
	const char *ev = getenv("CKCONV_PROGRESS_SECONDS");
	char *end;
	p->every = ev ? strtod(ev, &end) : 0;
	if (!ev || end == ev || *end || !(p->every > 0))
		p->every = PROGRESS_LOG_SECONDS;
	if (p->tty && !off && !winch_installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_winch;
		sa.sa_flags = SA_RESTART; /* a resize never interrupts a read or write */
		sigemptyset(&sa.sa_mask);
		winch_installed = sigaction(SIGWINCH, &sa, &old_winch) == 0;
	}
	p->resized_seen = resized;
}

static void restore_winch(void)
{
	if (winch_installed)
		sigaction(SIGWINCH, &old_winch, NULL);
	winch_installed = 0;
}

void progress_step(void *ctx, size_t done, size_t total, uint64_t bytes)
{
	progress *p = ctx;
	if (p->off)
		return;
	double t = now();
	int again = p->resized_seen != resized;
	if (!p->tty) { /* a log: a plain line now and then */
		if (t - p->last < p->every || done >= total)
			return;
		char b1[32], b2[32], r[32], eta[16];
		double rate = t > p->start ? (double)bytes / (t - p->start) : 0;
		p->last = t;
		fprintf(stderr, "ckconv: %s: %d%%, %zu/%zu tensors, %s of %s, %s/s, ETA %s\n", p->label,
			p->total_bytes ? (int)((double)bytes * 100 / (double)p->total_bytes) : 0, done, total,
			text_human_bytes((double)bytes, b1, sizeof b1), text_human_bytes((double)p->total_bytes, b2, sizeof b2), text_human_bytes(rate, r, sizeof r),
			hms(rate > 0 ? (double)(p->total_bytes - bytes) / rate : -1, eta, sizeof eta));
		return;
	}
	if (done < total && t - p->last < 0.1 && !again)
		return;
	p->last = t;
	p->resized_seen = resized;
	char line[1024];
	const char *name = p->name && done < total ? p->name(p->name_ctx, done) : NULL;
	progress_format(line, sizeof line, term_cols(), p->label, name, done, total, bytes, p->total_bytes, t - p->start);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
}

void progress_end(progress *p, size_t tensors, uint64_t bytes)
{
	char b[32];
	restore_winch();
	if (p->off)
		return;
	if (p->tty)
		fprintf(stderr, "\r\033[K");
	fprintf(stderr, "ckconv: %s: %zu tensors, %s in %.1fs\n", p->label, tensors, text_human_bytes((double)bytes, b, sizeof b),
		now() - p->start);
}

void progress_abort(progress *p)
{
	restore_winch();
	if (p->tty && !p->off)
		fputs("\r\033[K", stderr);
}
