/* The optimisers (src/train/optimizer.c): each rule's weights after three
 * steps against torch.optim 1.13's (tests/golden/train/optimizers.txt, made
 * by tools/make_train_golden.py), updated in two spans to exercise the
 * state offsets; one span on two threads against many small ones on one;
 * the defaults, schedules and clipping factor against hand values; the
 * state layout; bad parameters and allocation failures. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/optimizer.h"

#define GOLDEN_PATH COLCONV_TEST_DATA_DIR "/golden/train/optimizers.txt"
#define MAX_N 64

typedef struct {
    char name[64];
    cc_optimizer_params params;
    size_t n;
    float w0[MAX_N], g[3][MAX_N], w3[MAX_N];
} golden_case;

static void set_kind(cc_optimizer_params *p, const char *kind)
{
    static const char *const names[] = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"};
    for (int k = 0; k < 6; k++)
        if (strcmp(kind, names[k]) == 0) {
            p->kind = (cc_optimizer_kind)k;
            return;
        }
    fail_msg("unknown kind %s in %s", kind, GOLDEN_PATH);
}

/* One key=value of a case line into the parameter it names. */
static void set_field(cc_optimizer_params *p, const char *key, const char *value)
{
    const float v = strtof(value, NULL);
    const struct {
        const char *key;
        float *field;
    } floats[] = {{"lr", &p->lr},
                  {"weight_decay", &p->weight_decay},
                  {"momentum", &p->momentum},
                  {"dampening", &p->dampening},
                  {"beta1", &p->beta1},
                  {"beta2", &p->beta2},
                  {"eps", &p->eps},
                  {"alpha", &p->alpha},
                  {"rho", &p->rho},
                  {"lr_decay", &p->lr_decay},
                  {"initial_accumulator_value", &p->initial_accumulator_value},
                  {"clip_norm", &p->clip_norm}};
    if (strcmp(key, "kind") == 0) {
        set_kind(p, value);
        return;
    }
    if (strcmp(key, "nesterov") == 0 || strcmp(key, "centered") == 0) {
        *(strcmp(key, "nesterov") == 0 ? &p->nesterov : &p->centered) = (int)v;
        return;
    }
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        if (strcmp(key, floats[i].key) == 0) {
            *floats[i].field = v;
            return;
        }
    fail_msg("unknown field %s in %s", key, GOLDEN_PATH);
}

static size_t parse_floats(char *text, float *out)
{
    size_t n = 0;
    for (char *tok = strtok(text, " \n"); tok != NULL; tok = strtok(NULL, " \n")) {
        assert_true(n < MAX_N);
        out[n++] = strtof(tok, NULL);
    }
    return n;
}

/* Reads the next case line and its five vectors; false at the end. */
static bool read_case(FILE *f, golden_case *c)
{
    static char line[8192];
    do {
        if (fgets(line, sizeof line, f) == NULL)
            return false;
    } while (line[0] == '#');
    assert_int_equal(strncmp(line, "case ", 5), 0);
    memset(c, 0, sizeof *c);
    char *tok = strtok(line + 5, " \n");
    snprintf(c->name, sizeof c->name, "%s", tok);
    while ((tok = strtok(NULL, " \n")) != NULL) {
        char *eq = strchr(tok, '=');
        assert_non_null(eq);
        *eq = '\0';
        set_field(&c->params, tok, eq + 1);
    }
    float *vectors[5] = {c->w0, c->g[0], c->g[1], c->g[2], c->w3};
    const char *tags[5] = {"w0 ", "g1 ", "g2 ", "g3 ", "w3 "};
    for (int v = 0; v < 5; v++) {
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(strncmp(line, tags[v], 3), 0);
        const size_t n = parse_floats(line + 3, vectors[v]);
        if (v == 0)
            c->n = n;
        assert_int_equal(n, c->n);
    }
    return true;
}

/* Three steps as a trainer makes them: the global norm over every span when
 * clipping, then each span updated against its slice of the state. */
static void run_three_steps(const golden_case *c, float *w)
{
    cc__optimizer *opt = NULL;
    assert_int_equal(cc__optimizer_create(&c->params, c->n, &opt), CC_OK);
    const size_t split = c->n / 2 + 1;
    memcpy(w, c->w0, c->n * sizeof(float));
    for (int s = 0; s < 3; s++) {
        const double norm2 =
            cc__sum_squares(c->g[s], split) + cc__sum_squares(c->g[s] + split, c->n - split);
        cc__optimizer_begin_step(opt, norm2);
        const float lr = cc__lr_at_epoch(cc__optimizer_params(opt), 0);
        cc__optimizer_update(opt, w + split, c->g[s] + split, split, c->n - split, lr);
        cc__optimizer_update(opt, w, c->g[s], 0, split, lr);
    }
    cc__optimizer_destroy(opt);
}

static void test_against_torch(void **state)
{
    (void)state;
    FILE *f = fopen(GOLDEN_PATH, "r");
    assert_non_null(f);
    static golden_case c;
    int cases = 0;
    bool kinds_seen[6] = {false};
    while (read_case(f, &c)) {
        float w[MAX_N];
        run_three_steps(&c, w);
        const double tol = 1e-6 * tst_max_abs(c.w3, c.n);
        const size_t bad = tst_first_mismatch(w, c.w3, c.n, tol);
        if (bad != c.n)
            fail_msg("%s: w[%zu] = %.9g, torch %.9g (start %.9g, tolerance %.3g)", c.name, bad,
                     (double)w[bad], (double)c.w3[bad], (double)c.w0[bad], tol);
        /* the update did move the weights: a no-op cannot pass */
        assert_true(tst_first_mismatch(c.w0, c.w3, c.n, tol) != c.n);
        kinds_seen[c.params.kind] = true;
        cases++;
    }
    fclose(f);
    assert_true(cases >= 19);
    for (int k = 0; k < 6; k++)
        assert_true(kinds_seen[k]);
}

/* A large span split over two threads gives the bits that many small spans
 * on one thread give, for every kind. */
static void test_spans_and_threads(void **state)
{
    (void)state;
    const size_t n = 100003;
    float *w0 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    assert_true(w0 && g && a && b);
    tst_rng rng;
    tst_rng_seed(&rng, 1515);
    tst_fill(&rng, w0, n, false);
    const int threads = cc_get_num_threads();
    for (int kind = CC_OPT_SGD; kind <= CC_OPT_ADAMW; kind++) {
        cc_optimizer_params p;
        cc_optimizer_defaults((cc_optimizer_kind)kind, 0.01f, &p);
        p.momentum = kind == CC_OPT_SGD || kind == CC_OPT_RMSPROP ? 0.9f : 0.0f;
        p.centered = kind == CC_OPT_RMSPROP;
        cc__optimizer *one, *many;
        assert_int_equal(cc__optimizer_create(&p, n, &one), CC_OK);
        assert_int_equal(cc__optimizer_create(&p, n, &many), CC_OK);
        memcpy(a, w0, n * sizeof(float));
        memcpy(b, w0, n * sizeof(float));
        for (int s = 0; s < 2; s++) {
            tst_fill(&rng, g, n, false);
            cc__optimizer_begin_step(one, 0.0);
            cc__optimizer_begin_step(many, 0.0);
            cc_set_num_threads(2);
            cc__optimizer_update(one, a, g, 0, n, p.lr);
            cc_set_num_threads(1);
            for (size_t at = 0; at < n; at += 997) {
                const size_t len = n - at < 997 ? n - at : 997;
                cc__optimizer_update(many, b + at, g + at, at, len, p.lr);
            }
        }
        if (memcmp(a, b, n * sizeof(float)) != 0)
            fail_msg("kind %d: one span on 2 threads differs from small spans", kind);
        assert_true(memcmp(a, w0, n * sizeof(float)) != 0);
        cc__optimizer_destroy(one);
        cc__optimizer_destroy(many);
    }
    cc_set_num_threads(threads);
    free(w0), free(g), free(a), free(b);
}

static void test_defaults(void **state)
{
    (void)state;
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAM, 1e-3f, &p);
    assert_true(p.kind == CC_OPT_ADAM && p.lr == 1e-3f && p.beta1 == 0.9f && p.beta2 == 0.999f);
    assert_true(p.eps == 1e-8f && p.weight_decay == 0.0f && p.schedule == CC_LR_CONSTANT);
    cc_optimizer_defaults(CC_OPT_ADAMW, 1e-3f, &p);
    assert_true(p.weight_decay == 1e-2f && p.eps == 1e-8f);
    cc_optimizer_defaults(CC_OPT_ADAGRAD, 1e-2f, &p);
    assert_true(p.eps == 1e-10f && p.lr_decay == 0.0f && p.initial_accumulator_value == 0.0f);
    cc_optimizer_defaults(CC_OPT_RMSPROP, 1e-2f, &p);
    assert_true(p.alpha == 0.99f && p.eps == 1e-8f && p.momentum == 0.0f && !p.centered);
    cc_optimizer_defaults(CC_OPT_ADADELTA, 1.0f, &p);
    assert_true(p.rho == 0.9f && p.eps == 1e-6f);
    cc_optimizer_defaults(CC_OPT_SGD, 0.1f, &p);
    assert_true(p.momentum == 0.0f && p.dampening == 0.0f && !p.nesterov);
    /* zeros left by a caller resolve to the same defaults, AdaDelta's lr too */
    cc_optimizer_params zeros = {.kind = CC_OPT_ADADELTA}, resolved;
    assert_int_equal(cc__optimizer_resolve(&zeros, &resolved), CC_OK);
    assert_true(resolved.lr == 1.0f && resolved.rho == 0.9f && resolved.eps == 1e-6f);
}

static void test_schedules(void **state)
{
    (void)state;
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_SGD, 0.1f, &p);
    for (int e = 0; e < 5; e++)
        assert_float_equal(cc__lr_at_epoch(&p, e), 0.1f, 0.0f);
    p.schedule = CC_LR_STEP;
    p.step_size = 3;
    p.gamma = 0.5f;
    const float step_want[] = {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f, 0.025f};
    for (int e = 0; e < 8; e++)
        assert_float_equal(cc__lr_at_epoch(&p, e), step_want[e], 1e-9f);
    p.schedule = CC_LR_COSINE;
    p.t_max = 10;
    p.eta_min = 0.001f;
    /* 0.001 + 0.099 * (1 + cos(pi e / 10)) / 2 */
    const int epochs[] = {0, 1, 5, 9, 10, 15, 20};
    const double cos_want[] = {0.1, 0.0975773, 0.0505, 0.0034227, 0.001, 0.0505, 0.1};
    for (int i = 0; i < 7; i++)
        assert_float_equal(cc__lr_at_epoch(&p, epochs[i]), cos_want[i], 1e-7);
}

static void test_clipping(void **state)
{
    (void)state;
    assert_float_equal(cc__clip_scale(16.0, 2.0f), 2.0f / (4.0f + 1e-6f), 1e-9f);
    assert_float_equal(cc__clip_scale(1.0, 2.0f), 1.0f, 0.0f);
    assert_float_equal(cc__clip_scale(1e6, 0.0f), 1.0f, 0.0f);
    const float x[] = {3.0f, -4.0f, 0.5f};
    assert_float_equal(cc__sum_squares(x, 3), 25.25, 0.0);
    /* a clipped SGD step moves the weights by lr * clip along the gradient */
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_SGD, 1.0f, &p);
    p.clip_norm = 1.0f;
    cc__optimizer *opt;
    assert_int_equal(cc__optimizer_create(&p, 2, &opt), CC_OK);
    assert_true(cc__optimizer_clips(opt));
    float w[2] = {0.0f, 0.0f};
    const float g[2] = {30.0f, 40.0f};
    cc__optimizer_begin_step(opt, cc__sum_squares(g, 2));
    cc__optimizer_update(opt, w, g, 0, 2, 1.0f);
    assert_float_equal(w[0], -0.6f, 1e-6f);
    assert_float_equal(w[1], -0.8f, 1e-6f);
    cc__optimizer_destroy(opt);
}

/* The state's layout (optimizer.h): slot order, Adagrad's initial value,
 * SGD's first momentum buffer equal to the gradient, the step counter. */
static void test_state_layout(void **state)
{
    (void)state;
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAGRAD, 0.1f, &p);
    p.initial_accumulator_value = 0.25f;
    cc__optimizer *opt;
    float *s;
    size_t floats;
    int64_t *step;
    assert_int_equal(cc__optimizer_create(&p, 5, &opt), CC_OK);
    cc__optimizer_state(opt, &s, &floats, &step);
    assert_int_equal(floats, 5);
    for (int i = 0; i < 5; i++)
        assert_float_equal(s[i], 0.25f, 0.0f);
    assert_int_equal(*step, 0);
    cc__optimizer_destroy(opt);

    cc_optimizer_defaults(CC_OPT_SGD, 0.1f, &p);
    assert_int_equal(cc__optimizer_create(&p, 3, &opt), CC_OK);
    cc__optimizer_state(opt, &s, &floats, NULL);
    assert_null(s);
    assert_int_equal(floats, 0);
    cc__optimizer_destroy(opt);

    p.momentum = 0.9f;
    assert_int_equal(cc__optimizer_create(&p, 3, &opt), CC_OK);
    float w[3] = {1, 2, 3};
    const float g[3] = {0.5f, -1.0f, 2.0f};
    cc__optimizer_begin_step(opt, 0.0);
    cc__optimizer_update(opt, w, g, 0, 3, 0.1f);
    cc__optimizer_state(opt, &s, &floats, &step);
    assert_int_equal(floats, 3);
    assert_int_equal(*step, 1);
    assert_memory_equal(s, g, sizeof g);
    cc__optimizer_destroy(opt);

    cc_optimizer_defaults(CC_OPT_RMSPROP, 0.01f, &p);
    p.momentum = 0.5f;
    p.centered = 1;
    assert_int_equal(cc__optimizer_create(&p, 4, &opt), CC_OK);
    cc__optimizer_state(opt, NULL, &floats, NULL);
    assert_int_equal(floats, 12);
    cc__optimizer_destroy(opt);
}

/* Each bad parameter: CC_ERR_INVALID_ARG, a message naming the field. */
static void test_bad_parameters(void **state)
{
    (void)state;
    typedef struct {
        const char *field;
        cc_optimizer_params p;
    } bad_case;
    const bad_case cases[] = {
        {"kind", {.kind = (cc_optimizer_kind)6, .lr = 0.1f}},
        {"lr", {.kind = CC_OPT_SGD, .lr = 0.0f}},
        {"lr", {.kind = CC_OPT_ADAM, .lr = NAN}},
        {"weight_decay", {.kind = CC_OPT_SGD, .lr = 0.1f, .weight_decay = -1.0f}},
        {"momentum", {.kind = CC_OPT_SGD, .lr = 0.1f, .momentum = 1.0f}},
        {"dampening", {.kind = CC_OPT_SGD, .lr = 0.1f, .momentum = 0.5f, .dampening = -0.5f}},
        {"nesterov", {.kind = CC_OPT_SGD, .lr = 0.1f, .nesterov = 1}},
        {"nesterov", {.kind = CC_OPT_SGD, .lr = 0.1f, .nesterov = 1, .momentum = 0.9f,
                      .dampening = 0.1f}},
        {"nesterov", {.kind = CC_OPT_ADAM, .lr = 0.1f, .nesterov = 1}},
        {"centered", {.kind = CC_OPT_SGD, .lr = 0.1f, .centered = 1}},
        {"beta1", {.kind = CC_OPT_ADAM, .lr = 0.1f, .beta1 = 1.0f}},
        {"beta2", {.kind = CC_OPT_ADAM, .lr = 0.1f, .beta2 = -0.1f}},
        {"eps", {.kind = CC_OPT_ADAM, .lr = 0.1f, .eps = -1e-8f}},
        {"alpha", {.kind = CC_OPT_RMSPROP, .lr = 0.1f, .alpha = 1.5f}},
        {"rho", {.kind = CC_OPT_ADADELTA, .lr = 0.1f, .rho = INFINITY}},
        {"lr_decay", {.kind = CC_OPT_ADAGRAD, .lr = 0.1f, .lr_decay = -0.1f}},
        {"initial_accumulator_value",
         {.kind = CC_OPT_ADAGRAD, .lr = 0.1f, .initial_accumulator_value = -1.0f}},
        {"clip_norm", {.kind = CC_OPT_SGD, .lr = 0.1f, .clip_norm = -1.0f}},
        {"schedule", {.kind = CC_OPT_SGD, .lr = 0.1f, .schedule = (cc_lr_schedule)3}},
        {"step_size", {.kind = CC_OPT_SGD, .lr = 0.1f, .schedule = CC_LR_STEP}},
        {"gamma", {.kind = CC_OPT_SGD, .lr = 0.1f, .schedule = CC_LR_STEP, .step_size = 2,
                   .gamma = -0.5f}},
        {"t_max", {.kind = CC_OPT_SGD, .lr = 0.1f, .schedule = CC_LR_COSINE}},
        {"eta_min", {.kind = CC_OPT_SGD, .lr = 0.1f, .schedule = CC_LR_COSINE, .t_max = 5,
                     .eta_min = -1.0f}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cc__optimizer *opt = (cc__optimizer *)&opt;
        if (cc__optimizer_create(&cases[i].p, 8, &opt) != CC_ERR_INVALID_ARG)
            fail_msg("case %zu (%s): not CC_ERR_INVALID_ARG", i, cases[i].field);
        assert_null(opt);
        if (strstr(cc_last_error(), cases[i].field) == NULL)
            fail_msg("case %zu: message \"%s\" does not name %s", i, cc_last_error(),
                     cases[i].field);
    }
    assert_int_equal(cc__optimizer_create(NULL, 8, &(cc__optimizer *){NULL}), CC_ERR_INVALID_ARG);
}

/* Every allocation failure: CC_ERR_NOMEM, NULL handle, nothing leaked. */
static void test_allocation_failures(void **state)
{
    (void)state;
    cc_optimizer_params p;
    cc_optimizer_defaults(CC_OPT_ADAM, 1e-3f, &p);
    tst_failing_allocator inj;
    for (int fail_at = 1; fail_at <= 2; fail_at++) {
        tst_failing_allocator_install(&inj, fail_at);
        cc__optimizer *opt = (cc__optimizer *)&opt;
        assert_int_equal(cc__optimizer_create(&p, 100, &opt), CC_ERR_NOMEM);
        assert_true(inj.failed);
        assert_null(opt);
        assert_int_equal(inj.live, 0);
    }
    tst_failing_allocator_install(&inj, 0);
    cc__optimizer *opt;
    assert_int_equal(cc__optimizer_create(&p, 100, &opt), CC_OK);
    cc__optimizer_destroy(opt);
    assert_int_equal(inj.live, 0);
    assert_int_equal(cc_set_allocator(NULL), CC_OK);
    assert_int_equal(cc__optimizer_create(&p, SIZE_MAX / 2, &opt), CC_ERR_NOMEM);
    assert_null(opt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_torch),   cmocka_unit_test(test_spans_and_threads),
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_clipping),        cmocka_unit_test(test_state_layout),
        cmocka_unit_test(test_bad_parameters),  cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests_name("optimizers", tests, NULL, NULL);
}
