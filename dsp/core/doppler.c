/* The Doppler formulas (see include/dopflow/doppler.h): the one home of the
 * velocity scale, volumetric flow and wall shear rate used by the analysis,
 * the job, colour flow and the bindings. The simulator's truth writes its
 * own (dsp/sim/sim_spectrum.c, sim_config.c, sim_generator.c) so that a
 * mistake here cannot hide in both. */
#include "dopflow/doppler.h"

#include <math.h>

double dop_doppler_cm_s_per_hz(double f0_hz, double angle_deg, double c_m_s)
{
    return 100.0 * c_m_s / (2.0 * f0_hz * cos(angle_deg * M_PI / 180.0));
}

double dop_flow_ml_min(double vmean_cm_s, double diameter_mm)
{
    if (!(diameter_mm > 0.0)) return NAN;
    double radius_cm = diameter_mm / 20.0;
    return vmean_cm_s * M_PI * radius_cm * radius_cm * 60.0;
}

double dop_shear_rate_s(double vmean_cm_s, double diameter_mm)
{
    if (!(diameter_mm > 0.0)) return NAN;
    return 8.0 * vmean_cm_s / (diameter_mm / 10.0);
}
