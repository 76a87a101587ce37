/* dopflow: Doppler ultrasound signal processing. Umbrella header. */
#ifndef DOPFLOW_DOPFLOW_H
#define DOPFLOW_DOPFLOW_H

#include "dopflow/export.h"

#include "dopflow/status.h"
#include "dopflow/acquisition.h"
#include "dopflow/atomic_file.h"
#include "dopflow/records.h"
#include "dopflow/doppler.h"
#include "dopflow/reader.h"
#include "dopflow/quadrature_check.h"
#include "dopflow/wall_filter.h"
#include "dopflow/spectrum.h"
#include "dopflow/noise_floor.h"
#include "dopflow/envelope.h"
#include "dopflow/alias.h"
#include "dopflow/kasai.h"
#include "dopflow/ensemble.h"
#include "dopflow/clarius_raw.h"
#include "dopflow/beats.h"
#include "dopflow/summary.h"
#include "dopflow/analysis.h"
#include "dopflow/h5_writer.h"
#include "dopflow/result_schema.h"
#include "dopflow/result_reader.h"
#include "dopflow/job.h"
#include "dopflow/samples.h"
#include "dopflow/review.h"

/* Library version string, e.g. "0.1.0". */
DOP_API const char *dop_version(void);

#endif
