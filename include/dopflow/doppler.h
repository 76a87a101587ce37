/* dopflow: the Doppler formulas. Velocity from Doppler shift (the Doppler
 * equation), volumetric flow from mean velocity and diameter, and the wall
 * shear rate of Poiseuille flow; pure functions, no state. */
#ifndef DOPFLOW_DOPPLER_H
#define DOPFLOW_DOPPLER_H

#include "dopflow/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Doppler equation, cm/s per Hz of Doppler shift: c / (2 f0 cos(angle)) x 100.
 * Errors: none (NAN in, NAN out). */
DOP_API double dop_doppler_cm_s_per_hz(double f0_hz, double angle_deg, double c_m_s);

/* Flow [ml/min] = v [cm/s] x pi D^2/4 [cm^2] x 60 [s/min]; NAN if D unknown.
 * Errors: none. */
DOP_API double dop_flow_ml_min(double vmean_cm_s, double diameter_mm);
/* Wall shear rate of Poiseuille flow: 8 vmean / D, 1/s. Errors: none. */
DOP_API double dop_shear_rate_s(double vmean_cm_s, double diameter_mm);

#ifdef __cplusplus
}
#endif
#endif
