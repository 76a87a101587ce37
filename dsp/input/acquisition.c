/* Acquisition metadata and its JSON sidecar (jansson). See
 * include/dopflow/acquisition.h for the precedence rules. */
#include "dopflow/acquisition.h"
#include "dopflow/atomic_file.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

dop_acquisition dop_acquisition_unset(void)
{
    dop_acquisition acq = {NAN, NAN, NAN, NAN, DOP_CHANNELS_UNSET};
    return acq;
}

dop_acquisition dop_acquisition_defaults(void)
{
    dop_acquisition acq = dop_acquisition_unset();
    acq.c_m_s = 1540.0; /* soft tissue, the scanner convention */
    return acq;
}

void dop_acquisition_overlay(dop_acquisition *base, const dop_acquisition *over)
{
    if (!isnan(over->f0_hz)) base->f0_hz = over->f0_hz;
    if (!isnan(over->angle_deg)) base->angle_deg = over->angle_deg;
    if (!isnan(over->c_m_s)) base->c_m_s = over->c_m_s;
    if (!isnan(over->diameter_mm)) base->diameter_mm = over->diameter_mm;
    if (over->channels != DOP_CHANNELS_UNSET) base->channels = over->channels;
}

/* Range checks shared by the validator and the sidecar reader; NAN passes
 * (presence is checked separately). */
static dop_status check_ranges(const dop_acquisition *acq, const char *where, dop_error *err)
{
    if (!isnan(acq->f0_hz) && !(acq->f0_hz > 0.0 && acq->f0_hz <= 100e6))
        return dop_error_set(err, DOP_ERR_METADATA, "%sf0_hz = %g is not a transmit frequency in (0, 100 MHz]", where, acq->f0_hz);
    if (!isnan(acq->angle_deg) && !(acq->angle_deg >= 0.0 && acq->angle_deg <= 85.0))
        return dop_error_set(err, DOP_ERR_METADATA,
                             "%sangle_deg = %g is outside [0, 85] degrees (cos(angle) must not vanish)", where, acq->angle_deg);
    if (!isnan(acq->c_m_s) && !(acq->c_m_s >= 1000.0 && acq->c_m_s <= 2500.0))
        return dop_error_set(err, DOP_ERR_METADATA, "%sc_m_s = %g is outside [1000, 2500] m/s", where, acq->c_m_s);
    if (!isnan(acq->diameter_mm) && !(acq->diameter_mm > 0.0 && acq->diameter_mm <= 100.0))
        return dop_error_set(err, DOP_ERR_METADATA, "%sdiameter_mm = %g is outside (0, 100] mm", where, acq->diameter_mm);
    return DOP_OK;
}

dop_status dop_acquisition_validate(const dop_acquisition *acq, dop_error *err)
{
    if (isnan(acq->f0_hz))
        return dop_error_set(err, DOP_ERR_METADATA, "transmit frequency f0_hz is unknown: give it in Hz, or f0_hz in the sidecar");
    if (isnan(acq->angle_deg))
        return dop_error_set(err, DOP_ERR_METADATA, "insonation angle angle_deg is unknown: give it in degrees, or angle_deg in the sidecar");
    if (isnan(acq->c_m_s))
        return dop_error_set(err, DOP_ERR_METADATA, "speed of sound c_m_s is unknown: give it in m/s, or c_m_s in the sidecar");
    return check_ranges(acq, "", err);
}

dop_channels dop_channels_parse(const char *text)
{
    if (!text) return DOP_CHANNELS_UNSET;
    if (strcmp(text, "iq") == 0) return DOP_CHANNELS_IQ;
    if (strcmp(text, "qi") == 0) return DOP_CHANNELS_QI;
    if (strcmp(text, "mono") == 0) return DOP_CHANNELS_MONO;
    if (strcmp(text, "left") == 0) return DOP_CHANNELS_LEFT;
    if (strcmp(text, "right") == 0) return DOP_CHANNELS_RIGHT;
    return DOP_CHANNELS_UNSET;
}

const char *dop_channels_name(dop_channels channels)
{
    switch (channels) {
    case DOP_CHANNELS_IQ: return "iq";
    case DOP_CHANNELS_QI: return "qi";
    case DOP_CHANNELS_MONO: return "mono";
    case DOP_CHANNELS_LEFT: return "left";
    case DOP_CHANNELS_RIGHT: return "right";
    default: return "unset";
    }
}

static dop_status read_number(json_t *root, const char *key, double *out, const char *path, dop_error *err)
{
    json_t *value = json_object_get(root, key);
    if (!value || json_is_null(value)) return DOP_OK;
    if (!json_is_number(value))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: key \"%s\" must be a number", path, key);
    *out = json_number_value(value);
    if (!isfinite(*out))
        return dop_error_set(err, DOP_ERR_METADATA, "%s: key \"%s\" is not finite", path, key);
    return DOP_OK;
}

dop_status dop_sidecar_read(const char *path, dop_acquisition *out, dop_error *err)
{
    *out = dop_acquisition_unset();
    FILE *file = fopen(path, "rb");
    if (!file) return dop_error_set(err, DOP_ERR_IO, "%s: cannot open sidecar", path);
    json_error_t jerr;
    json_t *root = json_loadf(file, JSON_REJECT_DUPLICATES, &jerr);
    fclose(file);
    if (!root)
        return dop_error_set(err, DOP_ERR_METADATA, "%s: malformed JSON at line %d: %s", path, jerr.line, jerr.text);
    dop_status status = DOP_OK;
    if (!json_is_object(root)) {
        status = dop_error_set(err, DOP_ERR_METADATA, "%s: sidecar must be a JSON object", path);
        goto done;
    }
    const struct { const char *key; double *field; } numbers[] = {
        {"f0_hz", &out->f0_hz}, {"angle_deg", &out->angle_deg},
        {"c_m_s", &out->c_m_s}, {"diameter_mm", &out->diameter_mm},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        status = read_number(root, numbers[i].key, numbers[i].field, path, err);
        if (status != DOP_OK) goto done;
    }
    json_t *channels = json_object_get(root, "channels");
    if (channels && !json_is_null(channels)) {
        out->channels = json_is_string(channels) ? dop_channels_parse(json_string_value(channels)) : DOP_CHANNELS_UNSET;
        if (out->channels == DOP_CHANNELS_UNSET) {
            status = dop_error_set(err, DOP_ERR_METADATA, "%s: key \"channels\" must be \"iq\", \"qi\", \"mono\", \"left\" or \"right\"", path);
            goto done;
        }
    }
    char where[300];
    snprintf(where, sizeof where, "%s: ", path);
    status = check_ranges(out, where, err);
done:
    json_decref(root);
    return status;
}

dop_status dop_sidecar_write(const char *path, const dop_acquisition *acq, dop_error *err)
{
    json_t *root = json_object();
    if (!root) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory writing %s", path);
    if (!isnan(acq->f0_hz)) json_object_set_new(root, "f0_hz", json_real(acq->f0_hz));
    if (!isnan(acq->angle_deg)) json_object_set_new(root, "angle_deg", json_real(acq->angle_deg));
    if (!isnan(acq->c_m_s)) json_object_set_new(root, "c_m_s", json_real(acq->c_m_s));
    if (!isnan(acq->diameter_mm)) json_object_set_new(root, "diameter_mm", json_real(acq->diameter_mm));
    if (acq->channels != DOP_CHANNELS_UNSET)
        json_object_set_new(root, "channels", json_string(dop_channels_name(acq->channels)));
    dop_atomic_file *file = NULL;
    dop_status status = dop_atomic_open(path, &file, err);
    if (status == DOP_OK) {
        if (json_dumpf(root, dop_atomic_stream(file), JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(10)) != 0) {
            dop_atomic_abort(file);
            status = dop_error_set(err, DOP_ERR_IO, "%s: write failed", path);
        } else {
            fputc('\n', dop_atomic_stream(file));
            status = dop_atomic_commit(file, err);
        }
    }
    json_decref(root);
    return status;
}

char *dop_sidecar_path_for(const char *input_path)
{
    const char *slash = strrchr(input_path, '/');
    const char *dot = strrchr(input_path, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - input_path) : strlen(input_path);
    char *path = malloc(stem + 6);
    if (!path) return NULL;
    memcpy(path, input_path, stem);
    memcpy(path + stem, ".json", 6);
    return path;
}

/* The sidecar that applies: meta_path, else INPUT.json when it exists. */
static dop_status find_sidecar(const char *input_path, const char *meta_path, char *path, size_t size,
                               dop_error *err)
{
    path[0] = '\0';
    if (meta_path) {
        snprintf(path, size, "%s", meta_path);
        return DOP_OK;
    }
    if (strcmp(input_path, "-") == 0) return DOP_OK;
    char *guessed = dop_sidecar_path_for(input_path);
    if (!guessed) return dop_error_set(err, DOP_ERR_NOMEM, "out of memory");
    if (access(guessed, F_OK) == 0) snprintf(path, size, "%s", guessed);
    free(guessed);
    return DOP_OK;
}

dop_status dop_acquisition_resolve(const char *input_path, const char *meta_path, const dop_acquisition *row,
                                   const dop_acquisition *command_line, dop_acquisition_layers *out,
                                   dop_error *err)
{
    out->sidecar = dop_acquisition_unset();
    out->overrides = dop_acquisition_unset();
    if (row) dop_acquisition_overlay(&out->overrides, row);
    if (command_line) dop_acquisition_overlay(&out->overrides, command_line);
    out->layered = out->overrides;
    out->sidecar_path[0] = '\0';
    if (!input_path) return dop_error_set(err, DOP_ERR_INVALID_ARG, "no input given");
    dop_status status = find_sidecar(input_path, meta_path, out->sidecar_path, sizeof out->sidecar_path, err);
    if (status != DOP_OK || !out->sidecar_path[0]) return status;
    status = dop_sidecar_read(out->sidecar_path, &out->sidecar, err);
    if (status != DOP_OK) {
        out->sidecar = dop_acquisition_unset();
        out->sidecar_path[0] = '\0';
        /* a sidecar that exists or is named but cannot be read is bad metadata */
        return status == DOP_ERR_IO ? DOP_ERR_METADATA : status;
    }
    out->layered = out->sidecar;
    dop_acquisition_overlay(&out->layered, &out->overrides);
    return DOP_OK;
}
