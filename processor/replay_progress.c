#include "replay_progress.h"

#include <unistd.h>

#include "log.h"
#include "replay_time.h"

#define BAR_WIDTH 30

void replay_progress_start(struct replay_progress *progress, FILE *out, uint64_t total)
{
    progress->out = out;
    progress->tty = isatty(fileno(out));
    progress->total = total;
    progress->start_s = replay_now_s();
    progress->last_s = progress->start_s;
}

void replay_progress_format_duration(double seconds, char *out, size_t size)
{
    long s = seconds < 0 ? 0 : (long)(seconds + 0.5);

    snprintf(out, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
}

static void report(struct replay_progress *progress, uint64_t done, double now)
{
    double elapsed = now - progress->start_s;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double fraction = progress->total ? (double)done / (double)progress->total : 0;
    double eta = rate > 0 && progress->total > done ? (double)(progress->total - done) / rate : 0;
    char eta_text[32];

    replay_progress_format_duration(eta, eta_text, sizeof eta_text);
    if (!progress->tty) {
        log_info("replay progress events=%llu total=%llu percent=%.1f rate_per_s=%.0f eta=%s",
                 (unsigned long long)done, (unsigned long long)progress->total, fraction * 100, rate, eta_text);
        return;
    }
    char bar[BAR_WIDTH + 1];
    int filled = (int)(fraction * BAR_WIDTH);
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    fprintf(progress->out, "\r[%s] %5.1f%%  %llu/%llu events  %.0f events/s  ETA %s ", bar, fraction * 100,
            (unsigned long long)done, (unsigned long long)progress->total, rate, eta_text);
    fflush(progress->out);
}

void replay_progress_update(struct replay_progress *progress, uint64_t done)
{
    double now = replay_now_s();

    if (now - progress->last_s < (progress->tty ? REPLAY_PROGRESS_BAR_S : REPLAY_PROGRESS_LOG_S))
        return;
    progress->last_s = now;
    report(progress, done, now);
}

void replay_progress_finish(struct replay_progress *progress, uint64_t done)
{
    if (progress->tty) {
        report(progress, done, replay_now_s());
        fputc('\n', progress->out);
        }
}
