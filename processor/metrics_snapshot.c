#include "metrics_snapshot.h"

#include <string.h>

int metrics_board_init(struct metrics_board *board)
{
    memset(&board->snapshot, 0, sizeof board->snapshot);
    return pthread_mutex_init(&board->lock, NULL) == 0 ? 0 : -1;
}

void metrics_board_destroy(struct metrics_board *board)
{
    pthread_mutex_destroy(&board->lock);
}

void metrics_board_publish(struct metrics_board *board, const struct metrics_snapshot *snapshot)
{
    pthread_mutex_lock(&board->lock);
    board->snapshot = *snapshot;
    pthread_mutex_unlock(&board->lock);
}

void metrics_board_read(struct metrics_board *board, struct metrics_snapshot *out)
{
    pthread_mutex_lock(&board->lock);
    *out = board->snapshot;
    pthread_mutex_unlock(&board->lock);
}
