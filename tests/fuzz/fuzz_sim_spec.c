/* libFuzzer: the simulation spec parser (JSON) and its validation. */
#include "dopflow/simulate.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    dop_sim_config cfg;
    dop_error err;
    if (dop_sim_spec_parse(text, "fuzz.json", &cfg, &err) == DOP_OK) {
        /* what the parser accepts, the validator accepts */
        if (dop_sim_config_validate(&cfg, &err) != DOP_OK) abort();
    }
    free(text);
    return 0;
}
