/* The optimisers' update rules, written as torch.optim 1.13's single-tensor
 * forms operation by operation (the same order of roundings where it is
 * cheap), one plain loop per kind over restrict pointers so that each
 * vectorises; the per-step scalars (bias corrections, Adagrad's decayed
 * rate) are computed in double once per span, as torch computes them in
 * Python floats. */
#include "optimizer.h"

#include <math.h>

#include "../core/core.h"
#include "../layers/layers.h"

/* Weights per unit of parallel work in an update; spans shorter than two
 * blocks (tens of microseconds) run on the calling thread, where an OpenMP
 * fork would cost more than it saves. */
#define OPT_BLOCK 32768

struct cc__optimizer {
    cc_optimizer_params p; /* resolved */
    size_t floats;         /* weights the state covers */
    int slots;
    float *state;          /* slots * floats */
    int64_t step;
    float grad_scale;      /* clipping factor of the current step */
};

/* The slots' roles for the kind and options (see optimizer.h). */
typedef struct {
    float *s0, *s1, *s2;
} opt_slots;

/* The scalars of one step, shared by every span. */
typedef struct {
    float lr, scale;
    double step_size, bias2_sqrt, clr;
    int first;
} opt_step;

static int slot_count(const cc_optimizer_params *p)
{
    switch (p->kind) {
    case CC_OPT_SGD:
        return p->momentum > 0.0f ? 1 : 0;
    case CC_OPT_ADAGRAD:
        return 1;
    case CC_OPT_RMSPROP:
        return 1 + (p->momentum > 0.0f) + (p->centered != 0);
    case CC_OPT_ADADELTA:
    case CC_OPT_ADAM:
    case CC_OPT_ADAMW:
        return 2;
    }
    return 0;
}

static void fill_defaults(cc_optimizer_params *p)
{
    static const float eps_by_kind[] = {0.0f, 1e-10f, 1e-8f, 1e-6f, 1e-8f, 1e-8f};
    if (p->kind == CC_OPT_ADADELTA && p->lr == 0.0f)
        p->lr = 1.0f;
    if (p->kind == CC_OPT_ADAMW && p->weight_decay == 0.0f)
        p->weight_decay = 1e-2f; /* torch.optim.AdamW's default */
    if (p->beta1 == 0.0f)
        p->beta1 = 0.9f;
    if (p->beta2 == 0.0f)
        p->beta2 = 0.999f;
    if (p->eps == 0.0f && (unsigned)p->kind <= CC_OPT_ADAMW)
        p->eps = eps_by_kind[p->kind];
    if (p->alpha == 0.0f)
        p->alpha = 0.99f;
    if (p->rho == 0.0f)
        p->rho = 0.9f;
    if (p->gamma == 0.0f)
        p->gamma = 0.1f;
}

static cc_status check_nonneg(const char *field, float value)
{
    if (!(value >= 0.0f) || !isfinite(value))
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: %s must be finite and >= 0 (got %g)",
                        field, (double)value);
    return CC_OK;
}

static cc_status check_unit(const char *field, float value)
{
    if (!(value >= 0.0f && value < 1.0f))
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: %s must be in [0, 1) (got %g)", field,
                        (double)value);
    return CC_OK;
}

static cc_status check_kind_options(const cc_optimizer_params *p)
{
    if ((unsigned)p->kind > CC_OPT_ADAMW)
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: kind %d is not a cc_optimizer_kind",
                        (int)p->kind);
    if (p->nesterov && p->kind != CC_OPT_SGD)
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: nesterov is for SGD only");
    if (p->nesterov && (p->momentum <= 0.0f || p->dampening != 0.0f))
        return cc__fail(CC_ERR_INVALID_ARG,
                        "optimizer: nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                        (double)p->momentum, (double)p->dampening);
    if (p->centered && p->kind != CC_OPT_RMSPROP)
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: centered is for RMSProp only");
    return CC_OK;
}

static cc_status check_schedule(const cc_optimizer_params *p)
{
    switch (p->schedule) {
    case CC_LR_CONSTANT:
        return CC_OK;
    case CC_LR_STEP:
        if (p->step_size <= 0)
            return cc__fail(CC_ERR_INVALID_ARG, "optimizer: step_size must be > 0 (got %d)",
                            p->step_size);
        if (!(p->gamma > 0.0f) || !isfinite(p->gamma))
            return cc__fail(CC_ERR_INVALID_ARG, "optimizer: gamma must be finite and > 0 (got %g)",
                            (double)p->gamma);
        return CC_OK;
    case CC_LR_COSINE:
        if (p->t_max <= 0)
            return cc__fail(CC_ERR_INVALID_ARG, "optimizer: t_max must be > 0 (got %d)",
                            p->t_max);
        return check_nonneg("eta_min", p->eta_min);
    }
    return cc__fail(CC_ERR_INVALID_ARG, "optimizer: schedule %d is not a cc_lr_schedule",
                    (int)p->schedule);
}

cc_status cc__optimizer_resolve(const cc_optimizer_params *in, cc_optimizer_params *out)
{
    if (in == NULL || out == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: params must not be NULL");
    cc_optimizer_params p = *in;
    fill_defaults(&p);
    cc_status s = check_kind_options(&p);
    if (s != CC_OK)
        return s;
    if (!(p.lr > 0.0f) || !isfinite(p.lr))
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: lr must be finite and > 0 (got %g)",
                        (double)p.lr);
    const struct {
        const char *name;
        float value;
    } nonneg[] = {{"weight_decay", p.weight_decay}, {"eps", p.eps}, {"lr_decay", p.lr_decay},
                  {"initial_accumulator_value", p.initial_accumulator_value},
                  {"clip_norm", p.clip_norm}},
      unit[] = {{"momentum", p.momentum}, {"dampening", p.dampening}, {"beta1", p.beta1},
                {"beta2", p.beta2},       {"alpha", p.alpha},         {"rho", p.rho}};
    for (size_t i = 0; i < sizeof nonneg / sizeof nonneg[0]; i++)
        if ((s = check_nonneg(nonneg[i].name, nonneg[i].value)) != CC_OK)
            return s;
    for (size_t i = 0; i < sizeof unit / sizeof unit[0]; i++)
        if ((s = check_unit(unit[i].name, unit[i].value)) != CC_OK)
            return s;
    if ((s = check_schedule(&p)) != CC_OK)
        return s;
    *out = p;
    return CC_OK;
}

void cc_optimizer_defaults(cc_optimizer_kind kind, float lr, cc_optimizer_params *params)
{
    if (params == NULL)
        return;
    *params = (cc_optimizer_params){.kind = kind, .lr = lr};
    fill_defaults(params);
}

cc_status cc__optimizer_create(const cc_optimizer_params *params, size_t floats,
                               cc__optimizer **opt)
{
    if (opt == NULL)
        return cc__fail(CC_ERR_INVALID_ARG, "optimizer: opt must not be NULL");
    *opt = NULL;
    cc_optimizer_params p;
    cc_status s = cc__optimizer_resolve(params, &p);
    if (s != CC_OK)
        return s;
    const int slots = slot_count(&p);
    size_t state_floats;
    if (!cc__mul_size((size_t)slots, floats, &state_floats))
        return cc__fail(CC_ERR_NOMEM, "optimizer: state for %zu weights overflows", floats);
    cc__optimizer *o = cc__alloc(sizeof *o, "optimizer");
    if (o == NULL)
        return CC_ERR_NOMEM;
    *o = (cc__optimizer){.p = p, .floats = floats, .slots = slots, .grad_scale = 1.0f};
    if (state_floats > 0) {
        o->state = cc__alloc_array(state_floats, sizeof(float), "optimizer state");
        if (o->state == NULL) {
            cc__free(o);
            return CC_ERR_NOMEM;
        }
        const float first = p.kind == CC_OPT_ADAGRAD ? p.initial_accumulator_value : 0.0f;
        for (size_t i = 0; i < state_floats; i++)
            o->state[i] = i < floats ? first : 0.0f;
    }
    *opt = o;
    return CC_OK;
}

void cc__optimizer_destroy(cc__optimizer *opt)
{
    if (opt == NULL)
        return;
    cc__free(opt->state);
    cc__free(opt);
}

const cc_optimizer_params *cc__optimizer_params(const cc__optimizer *opt) { return &opt->p; }

bool cc__optimizer_clips(const cc__optimizer *opt) { return opt->p.clip_norm > 0.0f; }

void cc__optimizer_begin_step(cc__optimizer *opt, double grad_norm_squared)
{
    opt->step++;
    opt->grad_scale = cc__clip_scale(grad_norm_squared, opt->p.clip_norm);
}

float cc__clip_scale(double grad_norm_squared, float clip_norm)
{
    if (!(clip_norm > 0.0f))
        return 1.0f;
    /* torch computes the norm and the factor in float: norm + 1e-6 there. */
    const float norm = (float)sqrt(grad_norm_squared);
    const float factor = clip_norm / (norm + 1e-6f);
    return factor < 1.0f ? factor : 1.0f;
}

double cc__sum_squares(const float *x, size_t count)
{
    double sum = 0.0;
    for (size_t i = 0; i < count; i++)
        sum += (double)x[i] * (double)x[i];
    return sum;
}

float cc__lr_at_epoch(const cc_optimizer_params *params, int epoch)
{
    const double lr = params->lr;
    switch (params->schedule) {
    case CC_LR_CONSTANT:
        break;
    case CC_LR_STEP:
        if (params->step_size > 0)
            return (float)(lr * pow(params->gamma, epoch / params->step_size));
        break;
    case CC_LR_COSINE:
        if (params->t_max > 0) {
            const double pi = 3.14159265358979323846, eta_min = params->eta_min;
            return (float)(eta_min +
                           (lr - eta_min) * (1.0 + cos(pi * epoch / params->t_max)) / 2.0);
        }
        break;
    }
    return (float)lr;
}

/* The gradient as torch's step sees it: clipped, then L2 decay coupled. */
static inline float coupled_grad(float g, float w, float scale, float wd)
{
    return g * scale + wd * w;
}

static void sgd_span(const cc_optimizer_params *p, const opt_step *st, float *restrict w,
                     const float *restrict g, float *restrict buf, size_t n)
{
    const float wd = p->weight_decay, m = p->momentum, keep = 1.0f - p->dampening;
    const float lr = st->lr, scale = st->scale;
    if (buf == NULL) {
        for (size_t i = 0; i < n; i++)
            w[i] += -lr * coupled_grad(g[i], w[i], scale, wd);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float d = coupled_grad(g[i], w[i], scale, wd);
        const float b = st->first ? d : buf[i] * m + keep * d;
        buf[i] = b;
        w[i] += -lr * (p->nesterov ? d + m * b : b);
    }
}

static void adagrad_span(const cc_optimizer_params *p, const opt_step *st, float *restrict w,
                         const float *restrict g, float *restrict sum, size_t n)
{
    const float wd = p->weight_decay, eps = p->eps, scale = st->scale;
    const float clr = (float)st->clr;
    for (size_t i = 0; i < n; i++) {
        const float d = coupled_grad(g[i], w[i], scale, wd);
        sum[i] += d * d;
        w[i] += -clr * (d / (sqrtf(sum[i]) + eps));
    }
}

/* One body for the four variants; called with constant flags so that each
 * inlined copy has no branch in its loop and vectorises. */
static inline void rmsprop_body(const cc_optimizer_params *p, const opt_step *st,
                                float *restrict w, const float *restrict g, float *restrict sq,
                                float *restrict buf, float *restrict avg_g, size_t n,
                                bool momentum, bool centered)
{
    const float wd = p->weight_decay, eps = p->eps, a = p->alpha, m = p->momentum;
    const float lr = st->lr, scale = st->scale;
    for (size_t i = 0; i < n; i++) {
        const float d = coupled_grad(g[i], w[i], scale, wd);
        sq[i] = sq[i] * a + (1.0f - a) * (d * d);
        float var = sq[i];
        if (centered) {
            avg_g[i] = avg_g[i] * a + (1.0f - a) * d;
            var = sq[i] - avg_g[i] * avg_g[i];
        }
        const float denom = sqrtf(var) + eps;
        if (momentum) {
            buf[i] = buf[i] * m + d / denom;
            w[i] += -lr * buf[i];
        } else {
            w[i] += -lr * (d / denom);
        }
    }
}

static void rmsprop_span(const cc_optimizer_params *p, const opt_step *st, float *w,
                         const float *g, const opt_slots *sl, size_t n)
{
    if (sl->s1 != NULL && sl->s2 != NULL)
        rmsprop_body(p, st, w, g, sl->s0, sl->s1, sl->s2, n, true, true);
    else if (sl->s1 != NULL)
        rmsprop_body(p, st, w, g, sl->s0, sl->s1, NULL, n, true, false);
    else if (sl->s2 != NULL)
        rmsprop_body(p, st, w, g, sl->s0, NULL, sl->s2, n, false, true);
    else
        rmsprop_body(p, st, w, g, sl->s0, NULL, NULL, n, false, false);
}

static void adadelta_span(const cc_optimizer_params *p, const opt_step *st, float *restrict w,
                          const float *restrict g, float *restrict sq, float *restrict acc,
                          size_t n)
{
    const float wd = p->weight_decay, eps = p->eps, rho = p->rho;
    const float lr = st->lr, scale = st->scale;
    for (size_t i = 0; i < n; i++) {
        const float d = coupled_grad(g[i], w[i], scale, wd);
        sq[i] = sq[i] * rho + (1.0f - rho) * (d * d);
        const float delta = sqrtf(acc[i] + eps) / sqrtf(sq[i] + eps) * d;
        acc[i] = acc[i] * rho + (1.0f - rho) * (delta * delta);
        w[i] += -lr * delta;
    }
}

/* Adam and AdamW: AdamW decays the weight first (decoupled), Adam adds the
 * decay to the gradient. eps is added outside the square root, after the
 * bias correction, as torch does. */
static void adam_span(const cc_optimizer_params *p, const opt_step *st, float *restrict w,
                      const float *restrict g, float *restrict m1, float *restrict m2, size_t n)
{
    const int decoupled = p->kind == CC_OPT_ADAMW;
    const float wd_coupled = decoupled ? 0.0f : p->weight_decay;
    const float shrink = decoupled ? 1.0f - st->lr * p->weight_decay : 1.0f;
    const float b1 = p->beta1, b2 = p->beta2, eps = p->eps, scale = st->scale;
    const float step_size = (float)st->step_size, bias2_sqrt = (float)st->bias2_sqrt;
    for (size_t i = 0; i < n; i++) {
        const float wi = w[i] * shrink;
        const float d = coupled_grad(g[i], wi, scale, wd_coupled);
        m1[i] = m1[i] * b1 + (1.0f - b1) * d;
        m2[i] = m2[i] * b2 + (1.0f - b2) * (d * d);
        const float denom = sqrtf(m2[i]) / bias2_sqrt + eps;
        w[i] = wi + -step_size * (m1[i] / denom);
    }
}

static opt_step step_scalars(const cc__optimizer *opt, float lr)
{
    const cc_optimizer_params *p = &opt->p;
    const double t = (double)opt->step;
    opt_step st = {.lr = lr, .scale = opt->grad_scale, .first = opt->step <= 1};
    st.clr = lr / (1.0 + (t - 1.0) * p->lr_decay);
    st.step_size = lr / (1.0 - pow(p->beta1, t));
    st.bias2_sqrt = sqrt(1.0 - pow(p->beta2, t));
    return st;
}

static void update_block(const cc__optimizer *opt, const opt_step *st, float *w, const float *g,
                         size_t offset, size_t n)
{
    const cc_optimizer_params *p = &opt->p;
    float *base[3] = {NULL, NULL, NULL};
    for (int k = 0; k < opt->slots; k++)
        base[k] = opt->state + (size_t)k * opt->floats + offset;
    opt_slots sl = {base[0], base[1], base[2]};
    if (p->kind == CC_OPT_RMSPROP) {
        /* the square average, then the optional momentum and grad averages */
        const int has_momentum = p->momentum > 0.0f;
        sl.s1 = has_momentum ? base[1] : NULL;
        sl.s2 = p->centered ? base[1 + has_momentum] : NULL;
    }
    switch (p->kind) {
    case CC_OPT_SGD:
        sgd_span(p, st, w, g, sl.s0, n);
        break;
    case CC_OPT_ADAGRAD:
        adagrad_span(p, st, w, g, sl.s0, n);
        break;
    case CC_OPT_RMSPROP:
        rmsprop_span(p, st, w, g, &sl, n);
        break;
    case CC_OPT_ADADELTA:
        adadelta_span(p, st, w, g, sl.s0, sl.s1, n);
        break;
    case CC_OPT_ADAM:
    case CC_OPT_ADAMW:
        adam_span(p, st, w, g, sl.s0, sl.s1, n);
        break;
    }
}

void cc__optimizer_update(cc__optimizer *opt, float *weights, const float *grads, size_t offset,
                          size_t count, float lr)
{
    const opt_step st = step_scalars(opt, lr);
    const size_t blocks = cc__block_count(count, OPT_BLOCK);
    const int nt = count >= 2 * OPT_BLOCK ? cc__run_threads() : 1;
    CC__LAYER_FOR(b, blocks, nt, {
        const size_t begin = b * OPT_BLOCK;
        const size_t len = cc__block_len(count, begin, OPT_BLOCK);
        update_block(opt, &st, weights + begin, grads + begin, offset + begin, len);
    });
}

void cc__optimizer_state(cc__optimizer *opt, float **state, size_t *floats, int64_t **step)
{
    if (state != NULL)
        *state = opt->state;
    if (floats != NULL)
        *floats = (size_t)opt->slots * opt->floats;
    if (step != NULL)
        *step = &opt->step;
}
