/* report.md of a study: the design as read from the manifest, the table
 * a paper prints (mean ± SE over subjects, * where the Holm-adjusted
 * paired t-test p < STUDY_ALPHA), the repeated-measures ANOVA, the
 * reviews, what was excluded and why. Lists stop after
 * STUDY_STUDY_REPORT_LIST_MAX items. Written from the table (study_table.h);
 * only the reviews' counts are read here (KEY.review.csv). */
#include "study/study_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"

/* Markdown table cell text: '|' escaped, line breaks as spaces. */
static void md_put(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static void fmt_mean_se(FILE *f, double mean, double se)
{
    if (!isfinite(mean)) {
        fputs("–", f);
        return;
    }
    double a = fabs(mean);
    int d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
    if (isfinite(se))
        fprintf(f, "%.*f ± %.*f", d, mean, d, se);
    else
        fprintf(f, "%.*f", d, mean);
}

static void fmt_p(FILE *f, double p)
{
    if (!isfinite(p))
        fputs("–", f);
    else if (p < 0.001)
        fputs("<0.001", f);
    else
        fprintf(f, "%.3f", p);
}

/* The review of entry e (from KEY.review.csv); 0 if it had none. */
static int read_review_result(const study_entry *e, int *reviewed, long long *beats, double *excluded_s,
                              long long *unmatched)
{
    char name[STUDY_KEY_HEX + 16];
    snprintf(name, sizeof name, "%s.review.csv", e->key);
    char *path = dop_fs_path_join(e->results_dir, name);
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f) return 0;
    long long edits = 0;
    int ok = fscanf(f, STUDY_REVIEW_RESULT_HEADER " %d,%lld,%lf,%lld,%lld", reviewed, beats, excluded_s, &edits,
                    unmatched) == 5;
    fclose(f);
    return ok;
}

/* "## Review": per recording with a review file, the beats and seconds it
 * excluded; then the recordings not yet marked reviewed. Nothing when no
 * recording has a review file (reports of unreviewed studies unchanged). */
static void report_reviews(FILE *fm, const study_entry *E, size_t n)
{
    size_t with = 0, analysed = 0;
    int reviewed;
    long long beats, unmatched;
    double excluded_s;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        analysed++;
        with += read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
    }
    if (with == 0) return;
    fprintf(fm, "## Review\n\n%zu of %zu analysed recordings have a review file (REC.review.json).\n\n"
                "| Subject | Condition | Artery | File | Reviewed | Beats rejected by review | "
                "Seconds excluded by review | Edits unmatched |\n|---|---|---|---|---|---:|---:|---:|\n",
            with, analysed);
    size_t not_reviewed = 0;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        int has = read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
        if (!has || !reviewed) not_reviewed++;
        if (!has) continue;
        const char *cells[] = {E[i].subject, E[i].condition, E[i].artery, E[i].file};
        for (int c = 0; c < 4; c++) {
            fputs(c ? " | " : "| ", fm);
            md_put(fm, cells[c]);
        }
        fprintf(fm, " | %s | %lld | %.2f | %lld |\n", reviewed ? "yes" : "no", beats, excluded_s, unmatched);
    }
    fprintf(fm, "\nNot yet marked reviewed: %zu recording%s", not_reviewed, not_reviewed == 1 ? "" : "s");
    if (not_reviewed == 0) {
        fputs(".\n\n", fm);
        return;
    }
    fputs(":\n\n", fm);
    size_t listed = 0;
    for (size_t i = 0; i < n; i++) {
        if (E[i].error) continue;
        int has = read_review_result(&E[i], &reviewed, &beats, &excluded_s, &unmatched);
        if (has && reviewed) continue;
        if (listed++ == STUDY_REPORT_LIST_MAX) {
            fprintf(fm, "- ... and %zu more\n", not_reviewed - STUDY_REPORT_LIST_MAX);
            break;
        }
        fputs("- subject ", fm);
        md_put(fm, E[i].subject);
        fputs(", `", fm);
        md_put(fm, E[i].file);
        fputs(has ? "` (review file without \"reviewed\": true)\n" : "` (no review file)\n", fm);
    }
    fputc('\n', fm);
}

/* "- artery / condition, subject S" (the start of a report list item). */
static void subject_item(FILE *f, const study_group *g, const char *subject)
{
    fputs("- ", f);
    md_put(f, g->artery[0] ? g->artery : "(no artery)");
    fputs(" / ", f);
    md_put(f, g->condition);
    fputs(", subject ", f);
    md_put(f, subject);
}

/* Names of the entries at positions pos[0..n), ", "-separated. */
static void name_list(FILE *fm, const study_entry *E, const size_t *pos, size_t n, int artery)
{
    for (size_t i = 0; i < n; i++) {
        if (i) fputs(", ", fm);
        const study_entry *e = &E[pos[i]];
        md_put(fm, !artery ? e->condition : e->artery[0] ? e->artery : "(none given)");
    }
}

/* The title, the command and "## Design, as read from the manifest". */
static void report_design(FILE *fm, const study_report_in *in)
{
    const study_meta *meta = in->meta;
    const study_table *t = in->table;
    const study_epochs *es = in->epochs;
    fputs("# Study report\n\n", fm);
    if (meta->shard_count > 1)
        fprintf(fm, "**Partial results: shard %u of %u.** Combine the shard folders with "
                    "`dopflow study merge -o OUTDIR SHARD_DIR...` for the study's results.\n\n",
                meta->shard, meta->shard_count);
    fprintf(fm, "dopflow %s\n\n", meta->version);
    if (meta->command)
        fprintf(fm, "Command: `%s`\n\n(-o, -j, --resume and --shard are not shown: they do not change the "
                    "results.)\n\n", meta->command);
    fputs("## Design, as read from the manifest\n\n", fm);
    fputs("- Manifest: `", fm);
    md_put(fm, meta->manifest);
    fprintf(fm, "`, %zu recording%s (SHA-256 %.16s...)\n", meta->rows, meta->rows == 1 ? "" : "s",
            meta->manifest_sha256);
    fprintf(fm, "- Subjects: %zu\n", t->n_subjects);
    fprintf(fm, "- Arteries (%zu): ", t->n_arteries);
    name_list(fm, in->entries, t->arteries, t->n_arteries, 1);
    fprintf(fm, "\n- Conditions (%zu): ", t->n_conditions);
    name_list(fm, in->entries, t->conditions, t->n_conditions, 0);
    fprintf(fm, "\n- Epochs (%zu): ", t->k);
    if (!meta->epochs) {
        fputs("all (each recording whole)", fm);
    } else {
        for (size_t c = 0; c < t->k; c++)
            fprintf(fm, "%s%s [%g, %g) s", c ? ", " : "", es->labels[c], es->epochs[c].start_s, es->epochs[c].end_s);
        fputs(meta->onset_column ? ", relative to each recording's onset_s (from the start of the recording where "
                                   "onset_s is empty)"
                                 : ", from the start of each recording (the manifest has no onset_s column)",
              fm);
    }
    fprintf(fm, "\n- Reference epoch: %s\n", es->labels[es->ref]);
    fprintf(fm, "- Recordings: %zu in this folder, %zu analysed, %zu failed\n\n", in->n, in->n - t->failed,
            t->failed);
}

/* One artery's table of flow (flow = 1, with the significance marks) or
 * mean velocity: a row per condition, a column per epoch. */
static void report_artery_table(FILE *fm, const study_report_in *in, const char *artery, int flow)
{
    const study_table *t = in->table;
    fputs("### ", fm);
    md_put(fm, artery[0] ? artery : "All recordings");
    fputs("\n\n| Condition | n |", fm);
    for (size_t c = 0; c < t->k; c++) fprintf(fm, " %s |", in->epochs->labels[c]);
    fputs("\n|---|---:|", fm);
    for (size_t c = 0; c < t->k; c++) fputs("---:|", fm);
    fputc('\n', fm);
    for (size_t gi = 0; gi < t->n_groups; gi++) {
        const study_group *g = &t->groups[gi];
        if (strcmp(g->artery, artery) != 0) continue;
        fputs("| ", fm);
        md_put(fm, g->condition);
        fprintf(fm, " | %zu |", g->n_subjects);
        for (size_t c = 0; c < t->k; c++) {
            const study_group_epoch *ge = &g->ep[c];
            fputc(' ', fm);
            if (flow) {
                fmt_mean_se(fm, ge->q_mean, ge->q_sem);
                if (c != t->ref && isfinite(ge->p_adj) && ge->p_adj < STUDY_ALPHA) fputc('*', fm);
            } else {
                fmt_mean_se(fm, ge->v_mean, ge->v_sem);
            }
            fputs(" |", fm);
        }
        fputc('\n', fm);
    }
    fputc('\n', fm);
}

/* The flow and the velocity tables, per artery. */
static void report_tables(FILE *fm, const study_report_in *in)
{
    const study_table *t = in->table;
    if (in->figure)
        fprintf(fm, "![Flow by epoch, per artery and condition: mean ± SE, * p_adjusted < 0.05](%s)\n\n", in->figure);
    for (int flow = 1; flow >= 0; flow--) {
        fputs(flow ? "## Blood flow, ml/min (mean ± SE over subjects)\n\n"
                   : "## Mean velocity, cm/s (mean ± SE over subjects)\n\n",
              fm);
        for (size_t a = 0; a < t->n_arteries; a++)
            report_artery_table(fm, in, in->entries[t->arteries[a]].artery, flow);
        if (!flow) continue;
        if (t->k > 1)
            fprintf(fm, "\\* p < %.2f versus %s: paired t-test over the subjects with both epochs, "
                        "Holm-adjusted across the epochs of each artery and condition. n: subjects with at "
                        "least one analysed recording.\n\n",
                    STUDY_ALPHA, in->epochs->labels[t->ref]);
        else
            fputs("One epoch: no within-subject comparison. n: subjects with at least one analysed "
                  "recording.\n\n",
                  fm);
    }
}

/* "## Repeated-measures ANOVA of flow across epochs" (with several epochs). */
static void report_anova(FILE *fm, const study_table *t)
{
    if (t->k < 2) return;
    fputs("## Repeated-measures ANOVA of flow across epochs\n\n"
          "Subjects with flow in every epoch; Greenhouse-Geisser corrected p.\n\n"
          "| Artery | Condition | n | F | df | p | GG ε | p (GG) |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
          fm);
    for (size_t gi = 0; gi < t->n_groups; gi++) {
        const study_group *g = &t->groups[gi];
        fputs("| ", fm);
        md_put(fm, g->artery[0] ? g->artery : "–");
        fputs(" | ", fm);
        md_put(fm, g->condition);
        fprintf(fm, " | %zu | ", g->anova.n_subjects);
        if (!g->anova_ok) {
            fputs("– | – | – | – | – |\n", fm);
            continue;
        }
        if (isfinite(g->anova.f))
            fprintf(fm, "%.2f", g->anova.f);
        else
            fputs("–", fm);
        fprintf(fm, " | %g, %g | ", g->anova.df_effect, g->anova.df_error);
        fmt_p(fm, g->anova.p);
        fprintf(fm, " | %.3f | ", g->anova.gg_epsilon);
        fmt_p(fm, g->anova.p_gg);
        fputs(" |\n", fm);
    }
    fputc('\n', fm);
}

/* The recordings that failed, the first STUDY_REPORT_LIST_MAX listed. */
static void report_failures(FILE *fm, const study_report_in *in)
{
    size_t failed = in->table->failed, listed = 0;
    fprintf(fm, "Recordings that could not be analysed (%zu, all listed in failures.csv):\n\n", failed);
    for (size_t i = 0; i < in->n; i++) {
        const study_entry *e = &in->entries[i];
        if (!e->error) continue;
        if (listed++ == STUDY_REPORT_LIST_MAX) {
            fprintf(fm, "- ... and %zu more\n", failed - STUDY_REPORT_LIST_MAX);
            break;
        }
        fputs("- subject ", fm);
        md_put(fm, e->subject);
        fputs(", ", fm);
        md_put(fm, e->condition);
        if (e->artery[0]) {
            fputs(", ", fm);
            md_put(fm, e->artery);
        }
        fputs(", `", fm);
        md_put(fm, e->file);
        fputs("`: ", fm);
        md_put(fm, e->error);
        fputc('\n', fm);
    }
    fputc('\n', fm);
}

/* The subjects without flow in some epochs and which tests left them out. */
static void report_exclusions(FILE *fm, const study_report_in *in)
{
    const study_table *t = in->table;
    fprintf(fm, "Subjects with missing epoch values (%zu; no frames or no diameter in the epoch):\n\n",
            t->n_exclusions);
    for (size_t i = 0; i < t->n_exclusions && i < STUDY_REPORT_LIST_MAX; i++) {
        const study_exclusion *x = &t->exclusions[i];
        subject_item(fm, &t->groups[x->group], x->subject);
        fputs(": no flow for ", fm);
        int first = 1;
        for (size_t c = 0; c < t->k; c++)
            if (x->missing[c]) {
                fprintf(fm, "%s%s", first ? "" : ", ", in->epochs->labels[c]);
                first = 0;
            }
        fputs(x->missing[t->ref] ? " (left out of every paired test and the ANOVA)\n"
                                 : " (left out of those paired tests and the ANOVA)\n",
              fm);
    }
    if (t->n_exclusions > STUDY_REPORT_LIST_MAX)
        fprintf(fm, "- ... and %zu more\n", t->n_exclusions - STUDY_REPORT_LIST_MAX);
    fputc('\n', fm);
}

/* "## Notes": the subjects whose recordings were averaged. */
static void report_averaged(FILE *fm, const study_table *t)
{
    fprintf(fm, "## Notes\n\nSubjects with several recordings of one artery and condition (%zu); their epoch "
                "values were averaged before the statistics:\n\n", t->n_averaged);
    for (size_t i = 0; i < t->n_averaged && i < STUDY_REPORT_LIST_MAX; i++) {
        const study_averaged *a = &t->averaged[i];
        subject_item(fm, &t->groups[a->group], a->subject);
        fprintf(fm, ": %zu recordings averaged\n", a->recordings);
    }
    if (t->n_averaged > STUDY_REPORT_LIST_MAX)
        fprintf(fm, "- ... and %zu more\n", t->n_averaged - STUDY_REPORT_LIST_MAX);
    fputc('\n', fm);
}

void study_report_write(FILE *fm, const study_report_in *in)
{
    const study_table *t = in->table;
    report_design(fm, in);
    report_tables(fm, in);
    report_anova(fm, t);
    report_reviews(fm, in->entries, in->n);
    fputs("## Excluded\n\n", fm);
    if (t->failed == 0 && t->n_exclusions == 0)
        fputs("Nothing: every recording was analysed and every subject has flow in every epoch.\n\n", fm);
    if (t->failed) report_failures(fm, in);
    if (t->n_exclusions) report_exclusions(fm, in);
    if (t->n_averaged) report_averaged(fm, t);
}
