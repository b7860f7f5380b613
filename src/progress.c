/* progress.c - a one-line progress bar that costs nothing measurable: it looks at the clock
 * once per tensor and redraws at most every 100 ms. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "progress.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *human(double b, char *buf, size_t n)
{
	static const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4) {
		b /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
	return buf;
}

void progress_begin(progress *p, const char *label, uint64_t total_bytes, int off)
{
	p->tty = isatty(2);
	p->off = off;
	p->label = label;
	p->total_bytes = total_bytes;
	p->start = now();
	p->last = 0;
}

void progress_step(void *ctx, size_t done, size_t total, uint64_t bytes)
{
	progress *p = ctx;
	if (p->off || !p->tty)
		return;
	double t = now();
	if (done < total && t - p->last < 0.1)
		return;
	p->last = t;
	double el = t - p->start, rate = el > 0 ? (double)bytes / el : 0;
	double frac = p->total_bytes ? (double)bytes / (double)p->total_bytes : (double)done / (double)(total ? total : 1);
	int w = 24, fill = (int)(frac * w + 0.5);
	char bar[32], b1[32], b2[32], r[32];
	for (int i = 0; i < w; i++)
		bar[i] = i < fill ? '=' : ' ';
	bar[w] = '\0';
	double eta = rate > 0 ? (double)(p->total_bytes - bytes) / rate : 0;
	fprintf(stderr, "\r\033[K%s [%s] %zu/%zu tensors  %s / %s  %s/s  ETA %.0fs", p->label, bar, done, total,
		human((double)bytes, b1, sizeof b1), human((double)p->total_bytes, b2, sizeof b2), human(rate, r, sizeof r),
		eta);
	fflush(stderr);
}

void progress_end(progress *p, size_t tensors, uint64_t bytes)
{
	char b[32];
	if (p->off)
		return;
	if (p->tty)
		fprintf(stderr, "\r\033[K");
	fprintf(stderr, "ckconv: %s: %zu tensors, %s in %.1fs\n", p->label, tensors, human((double)bytes, b, sizeof b),
		now() - p->start);
}
