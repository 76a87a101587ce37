/* dopflow simulate, cohorts: the shipped Shoemaker 1997 design and the
 * files a study reads (manifest.csv, truth.csv). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "dopflow/manifest.h"
#include "dopflow/simulate.h"

#define COHORT DOPFLOW_SOURCE_DIR "/datasets/shoemaker1997/cohort.json"

static dop_sim_cohort *load(const char *path)
{
    dop_sim_cohort *c = NULL;
    dop_error err;
    if (dop_sim_cohort_load(path, &c, &err) != DOP_OK) fail_msg("%s", err.message);
    return c;
}

/* 10 subjects x 2 arteries x 4 conditions, drawn the same way every time. */
static void test_shoemaker_design(void **state)
{
    (void)state;
    dop_sim_cohort *a = load(COHORT), *b = load(COHORT);
    size_t n = dop_sim_cohort_count(a);
    assert_int_equal(n, 80);
    assert_int_equal(dop_sim_cohort_count(b), 80);
    double rest_v[2] = {0, 0}, rest_q[2] = {0, 0}, ex_q[2] = {0, 0};
    int counts[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        const dop_sim_cohort_item *it = dop_sim_cohort_item_at(a, i);
        assert_string_equal(it->spec_json, dop_sim_cohort_item_at(b, i)->spec_json);
        const dop_sim_config *c = &it->config;
        int femoral = strcmp(it->artery, "femoral") == 0;
        assert_true(femoral || strcmp(it->artery, "brachial") == 0);
        /* Acquisition within the design's ranges. */
        assert_true(c->f0_hz >= 4e6 && c->f0_hz <= 8e6);
        assert_true(c->angle_deg >= 45.0 && c->angle_deg <= 60.0);
        assert_true(c->fs_hz == 12500.0 && c->duration_s == 40.0);
        assert_true(c->snr_db >= 10.0 && c->snr_db <= 20.0 && c->clutter_db >= 20.0 && c->clutter_db <= 40.0);
        assert_true(c->has_event && it->onset_s == 15.0 && c->onset_s == 15.0);
        assert_int_equal(c->n_epochs, 4);
        assert_string_equal(c->epochs[0].label, "pre");
        assert_true(c->epochs[0].start_s == 5.0 && c->epochs[3].end_s == 37.5);
        assert_true(c->rest.heart_rate_bpm >= 60.0 && c->rest.heart_rate_bpm <= 75.0);
        /* Clear of aliasing with margin. */
        dop_sim *sim = NULL;
        assert_int_equal(dop_sim_create(c, &sim, NULL), DOP_OK);
        assert_true(dop_sim_peak_velocity_cm_s(sim) < 0.8 * dop_sim_nyquist_cm_s(c));
        dop_sim_destroy(sim);
        double area = M_PI * (c->diameter_mm / 20.0) * (c->diameter_mm / 20.0);
        if (strcmp(it->condition, "exercise") == 0) {
            assert_int_equal(c->artifact.type, DOP_SIM_ARTIFACT_NONE);
            assert_true(c->after.mean_velocity_cm_s > 1.2 * c->rest.mean_velocity_cm_s);
            assert_true(c->after.heart_rate_bpm > c->rest.heart_rate_bpm);
            assert_string_equal(c->after.waveform.name, "exercise");
            ex_q[femoral] += c->after.mean_velocity_cm_s * area * 60.0;
        } else {
            /* Massage: no true effect on flow; its artifacts from onset. */
            assert_true(c->after.mean_velocity_cm_s == c->rest.mean_velocity_cm_s);
            assert_true(c->after.heart_rate_bpm == c->rest.heart_rate_bpm);
            assert_string_equal(dop_sim_artifact_name(c->artifact.type), it->condition);
            assert_true(c->artifact.start_s == 15.0);
            rest_v[femoral] += c->rest.mean_velocity_cm_s;
            rest_q[femoral] += c->rest.mean_velocity_cm_s * area * 60.0;
            counts[femoral]++;
        }
    }
    /* The simulated group sits on the published means (+/- 2 SE). */
    assert_true(fabs(rest_v[0] / counts[0] - 5.77) < 2 * 0.4);
    assert_true(fabs(rest_v[1] / counts[1] - 9.73) < 2 * 0.7);
    assert_true(fabs(rest_q[0] / counts[0] - 39.1) < 2 * 6.4);
    assert_true(fabs(rest_q[1] / counts[1] - 371.0) < 2 * 30.0);
    assert_true(fabs(ex_q[0] / 10.0 - 126.0) < 2 * 19.0);
    assert_true(fabs(ex_q[1] / 10.0 - 1087.0) < 2 * 144.0);
    dop_sim_cohort_destroy(a);
    dop_sim_cohort_destroy(b);
}

static const char *small_cohort =
    "{\"kind\": \"cohort\", \"name\": \"small\", \"seed\": 5, \"subjects\": 2, \"duration_s\": 6, \"onset_s\": 3,\n"
    " \"epochs\": [{\"label\": \"pre\", \"start_s\": -2, \"end_s\": 0}, {\"label\": \"post\", \"start_s\": 1, \"end_s\": 3}],\n"
    " \"recording\": {\"sample_rate_hz\": 8000},\n"
    " \"draws\": {\"snr_db\": [10, 20], \"clutter_db\": 30},\n"
    " \"arteries\": {\"brachial\": {\"f0_hz\": 5e6, \"angle_deg\": 60, \"diameter_mm\": {\"mean\": 3.8, \"sd\": 0.3},\n"
    "    \"rest_velocity_cm_s\": {\"mean\": 6, \"se\": 0.4}, \"exercise_flow_ml_min\": {\"mean\": 120, \"se\": 10},\n"
    "    \"exercise_heart_rate_rise_bpm\": [5, 10]}},\n"
    " \"conditions\": {\"tapotement\": {\"artifact\": \"tapotement\"}, \"exercise\": {\"exercise\": true}}}\n";

/* Writing a cohort: every file, a manifest the study reads, truth rows that
 * match each recording's own truth. */
static void test_cohort_write(void **state)
{
    (void)state;
    char dir[] = "/tmp/dopflow_test_cohort.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char spec[128], out[160], path[400];
    snprintf(spec, sizeof spec, "%s/small.json", dir);
    FILE *f = fopen(spec, "w");
    fputs(small_cohort, f);
    fclose(f);
    dop_sim_cohort *co = load(spec);
    assert_int_equal(dop_sim_cohort_count(co), 4);
    snprintf(out, sizeof out, "%s/out/nested", dir);
    dop_error err;
    if (dop_sim_cohort_write(co, out, NULL, NULL, &err) != DOP_OK) fail_msg("%s", err.message);

    snprintf(path, sizeof path, "%s/manifest.csv", out);
    dop_manifest *m = NULL;
    if (dop_manifest_read(path, &m, &err) != DOP_OK) fail_msg("%s", err.message);
    assert_int_equal(dop_manifest_row_count(m), 4);
    for (size_t i = 0; i < 4; i++) {
        const dop_manifest_row *r = dop_manifest_row_at(m, i);
        assert_true(access(r->path, R_OK) == 0);
        assert_true(r->onset_s == 3.0);
        const dop_sim_cohort_item *it = dop_sim_cohort_item_at(co, i);
        assert_string_equal(r->file, it->file);
        assert_string_equal(dop_manifest_name(m, DOP_MANIFEST_CONDITION, r->condition), it->condition);
        /* The resolved spec beside it regenerates the same recording. */
        snprintf(path, sizeof path, "%s/%.*s.spec.json", out, (int)strlen(it->file) - 4, it->file);
        dop_sim_config c;
        if (dop_sim_spec_load(path, &c, &err) != DOP_OK) fail_msg("%s", err.message);
        assert_true(c.seed == it->config.seed && c.rest.mean_velocity_cm_s == it->config.rest.mean_velocity_cm_s);
    }
    dop_manifest_destroy(m);

    /* truth.csv: one row per recording and epoch, equal to the truth.json. */
    snprintf(path, sizeof path, "%s/truth.csv", out);
    f = fopen(path, "r");
    assert_non_null(f);
    char line[600];
    assert_non_null(fgets(line, sizeof line, f));
    assert_true(strncmp(line, "subject,condition,artery,file,epoch,start_s,end_s,mean_velocity_cm_s,tamax_cm_s,flow_ml_min,"
                              "heart_rate_bpm", 106) == 0);
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char subject[16], cond[32], art[32], file[96], epoch[32];
        double s0, s1, v, tamax, q;
        assert_int_equal(sscanf(line, "%15[^,],%31[^,],%31[^,],%95[^,],%31[^,],%lf,%lf,%lf,%lf,%lf", subject, cond, art,
                                file, epoch, &s0, &s1, &v, &tamax, &q),
                         10);
        snprintf(path, sizeof path, "%s/%.*s.truth.json", out, (int)strlen(file) - 4, file);
        json_t *root = json_load_file(path, 0, NULL);
        assert_non_null(root);
        json_t *eps = json_object_get(root, "epochs");
        int found = 0;
        for (size_t e = 0; e < json_array_size(eps); e++) {
            json_t *o = json_array_get(eps, e);
            if (strcmp(json_string_value(json_object_get(o, "label")), epoch) != 0) continue;
            found = 1;
            assert_true(fabs(json_number_value(json_object_get(o, "mean_velocity_cm_s")) - v) < 1e-5);
            assert_true(fabs(json_number_value(json_object_get(o, "flow_ml_min")) - q) < 1e-5);
        }
        assert_true(found);
        json_decref(root);
        rows++;
    }
    fclose(f);
    assert_int_equal(rows, 8);
    snprintf(path, sizeof path, "%s/epochs.txt", out);
    f = fopen(path, "r");
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "pre:-2:0,post:1:3\n");
    dop_sim_cohort_destroy(co);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* A design that would alias is refused, naming the recording. */
static void test_cohort_errors(void **state)
{
    (void)state;
    char dir[] = "/tmp/dopflow_test_cohort_err.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char spec[128];
    snprintf(spec, sizeof spec, "%s/bad.json", dir);
    char *text = strdup(small_cohort);
    char *p = strstr(text, "\"f0_hz\": 5e6");
    memcpy(p, "\"f0_hz\": 2e7", 12); /* 20 MHz at 8 kHz: Nyquist 31 cm/s */
    FILE *f = fopen(spec, "w");
    fputs(text, f);
    fclose(f);
    dop_sim_cohort *co = NULL;
    dop_error err;
    assert_int_equal(dop_sim_cohort_load(spec, &co, &err), DOP_ERR_FORMAT);
    assert_null(co);
    assert_non_null(strstr(err.message, "Nyquist"));
    assert_non_null(strstr(err.message, "S01_brachial"));
    free(text);

    f = fopen(spec, "w");
    fputs("{\"kind\": \"cohort\", \"name\": \"x\", \"seed\": 1, \"subjects\": 2, \"duration_s\": 6, \"onset_s\": 3,"
          " \"arteries\": {}, \"conditions\": {\"a\": {}}, \"colour\": 1}",
          f);
    fclose(f);
    assert_int_equal(dop_sim_cohort_load(spec, &co, &err), DOP_ERR_FORMAT);
    assert_non_null(strstr(err.message, "colour"));
    dop_sim_spec_kind kind;
    assert_int_equal(dop_sim_spec_kind_of(spec, &kind, NULL), DOP_OK);
    assert_int_equal(kind, DOP_SIM_SPEC_COHORT);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shoemaker_design),
        cmocka_unit_test(test_cohort_write),
        cmocka_unit_test(test_cohort_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
