/* The frames CSV written by a second thread (internal to the library).
 *
 * A 10-minute analysis writes 60,000 rows (4.6 MB); formatting them and the
 * write(2) calls took about 6 % of the whole process on one core. The job
 * hands the frames over in batches of FRAME_QUEUE_BATCH and a writer thread
 * formats and writes them in order with dop_frame_csv_row(), the same bytes
 * as writing them in place, while the analysis goes on. Without a thread
 * (pthread_create failed) every frame is written at once, as before.
 *
 * Life: dop_frame_queue_create(stream) -> dop_frame_queue_push() per frame
 * (copies it; never allocates; waits only when the writer is a whole
 * batch behind) -> dop_frame_queue_finish() (writes
 * what is left, joins the thread, frees; NULL is fine). The stream must not
 * be used by anyone else between create and finish. */
#ifndef DOPFLOW_FRAME_QUEUE_H
#define DOPFLOW_FRAME_QUEUE_H

#include <stdio.h>

#include "dopflow/records.h"
#include "dopflow/status.h"

typedef struct dop_frame_queue dop_frame_queue;

/* Errors: DOP_ERR_NOMEM. */
dop_status dop_frame_queue_create(FILE *out, dop_frame_queue **out_queue, dop_error *err);

void dop_frame_queue_push(dop_frame_queue *q, const dop_frame *frame);

/* Every frame pushed is in the stream (not flushed) when this returns. */
void dop_frame_queue_finish(dop_frame_queue *q);

#endif
