/* Order matters for "an error writes nothing": the network, the dataset,
 * the trainer (which validates the optimiser) and a resumed state are all
 * checked before the output directory is made. */
#include "run.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "history.h"
#include "idx.h"
#include "progress.h"

typedef struct {
    cc_net *net;
    cc_trainer *trainer;
    idx_dataset data;
    train_history history;
    int channels, height, width, classes;
    float *input;    /* batch images in the network's input layout */
    int32_t *labels; /* batch labels */
    int *order;      /* the epoch's shuffled training indices */
    char best_path[4200], state_path[4200], csv_path[4200], png_path[4200];
} train_ctx;

static int fail(FILE *err, int code, const char *what, const char *why)
{
    fprintf(err, "colconv-train: %s: %s\n", what, why);
    return code;
}

static int library_fail(FILE *err, cc_status s, const char *what)
{
    return fail(err, s == CC_ERR_INVALID_ARG || s == CC_ERR_FORMAT ? TRAIN_EXIT_USAGE
                                                                    : TRAIN_EXIT_FAILED,
                what, cc_last_error());
}

/* The zoo network; a softmax appended when it ends in logits (LeNet-5). */
static int make_net(train_ctx *c, const train_options *o, FILE *err)
{
    cc_status s = cc_net_zoo_create(o->net, o->layout, o->batch, &c->net);
    if (s != CC_OK)
        return library_fail(err, s, "--net");
    cc_net_layer_info in, last;
    cc_node top = cc_net_node_count(c->net) - 1;
    cc_net_get_layer_info(c->net, top, &last);
    if (strcmp(last.type, "Softmax") != 0) {
        if ((s = cc_net_add_softmax(c->net, "prob", top, &top)) != CC_OK)
            return library_fail(err, s, "--net");
        cc_net_get_layer_info(c->net, top, &last);
    }
    cc_net_get_layer_info(c->net, cc_net_input(c->net), &in);
    c->channels = in.c;
    c->height = in.h;
    c->width = in.w;
    c->classes = last.c;
    if (in.c != 1)
        return fail(err, TRAIN_EXIT_USAGE, "--net",
                    "the network takes images of several channels; the dataset's are grey");
    return TRAIN_EXIT_OK;
}

static int load_data(train_ctx *c, const train_options *o, FILE *err)
{
    char why[8400];
    if (!idx_dataset_load(o->data, c->classes, c->height, c->width, &c->data, why, sizeof why))
        return fail(err, TRAIN_EXIT_USAGE, "--data", why);
    if (c->data.train_images.count < o->batch) {
        snprintf(why, sizeof why, "%d training images, fewer than --batch %d",
                 c->data.train_images.count, o->batch);
        return fail(err, TRAIN_EXIT_USAGE, "--data", why);
    }
    const size_t image = (size_t)c->height * (size_t)c->width;
    c->input = malloc((size_t)o->batch * image * sizeof(float));
    c->labels = malloc((size_t)o->batch * sizeof(int32_t));
    c->order = malloc((size_t)c->data.train_images.count * sizeof(int));
    if (c->input == NULL || c->labels == NULL || c->order == NULL)
        return fail(err, TRAIN_EXIT_FAILED, "memory", "out of memory for the batch");
    return TRAIN_EXIT_OK;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int make_trainer(train_ctx *c, const train_options *o, FILE *err)
{
    snprintf(c->best_path, sizeof c->best_path, "%s/best.ccw", o->out);
    snprintf(c->state_path, sizeof c->state_path, "%s/trainer.state", o->out);
    snprintf(c->csv_path, sizeof c->csv_path, "%s/train.csv", o->out);
    snprintf(c->png_path, sizeof c->png_path, "%s/curves.png", o->out);
    cc_status s = cc_net_init_weights(c->net, o->init, o->seed);
    if (s != CC_OK)
        return library_fail(err, s, "weights");
    if ((s = cc_trainer_create(c->net, o->batch, &o->opt, o->seed, &c->trainer)) != CC_OK)
        return library_fail(err, s, "options");
    if (!o->resume) {
        if (file_exists(c->state_path))
            return fail(err, TRAIN_EXIT_USAGE, o->out,
                        "holds a run already (trainer.state): --resume it or use another --out");
        return TRAIN_EXIT_OK;
    }
    char why[8400];
    if (!history_load(c->csv_path, &c->history, why, sizeof why))
        return fail(err, TRAIN_EXIT_USAGE, "--resume", why);
    if ((s = cc_trainer_load(c->trainer, c->state_path)) != CC_OK)
        return library_fail(err, s, "--resume");
    return TRAIN_EXIT_OK;
}

/* mkdir -p. */
static bool make_dirs(const char *path)
{
    char buf[4200];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return false;
            *p = '/';
        }
    return mkdir(buf, 0777) == 0 || errno == EEXIST;
}

/* splitmix64: the same shuffle for a seed and epoch on every machine, and
 * after a resume. */
static uint64_t mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void shuffle(int *order, int n, uint64_t seed, int epoch)
{
    uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(epoch + 1));
    for (int i = 0; i < n; i++)
        order[i] = i;
    for (int i = n - 1; i > 0; i--) {
        const int j = (int)(mix(&state) % (uint64_t)(i + 1));
        const int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Images idx[0..count) into the batch: scaled to [0, 1], centred in the
 * network's input with zeros around (one channel: NCHW and NHWC agree). */
static void fill_batch(train_ctx *c, const idx_file *images, const idx_file *labels,
                       const int *idx, int count)
{
    const int rows = images->rows, cols = images->cols;
    const int top = (c->height - rows) / 2, left = (c->width - cols) / 2;
    const size_t plane = (size_t)c->height * (size_t)c->width;
    memset(c->input, 0, (size_t)count * plane * sizeof(float));
    for (int b = 0; b < count; b++) {
        const unsigned char *src = images->data + (size_t)idx[b] * (size_t)rows * (size_t)cols;
        float *dst = c->input + (size_t)b * plane;
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols; x++)
                dst[(size_t)(y + top) * (size_t)c->width + (size_t)(x + left)] =
                    (float)src[y * cols + x] * (1.0f / 255.0f);
        c->labels[b] = labels->data[idx[b]];
    }
}

static int train_epoch(train_ctx *c, const train_options *o, train_progress *pr, int epoch,
                       epoch_row *row, FILE *err)
{
    const int n = c->data.train_images.count, steps = n / o->batch;
    shuffle(c->order, n, o->seed, epoch);
    cc_status s = cc_trainer_set_epoch(c->trainer, epoch);
    progress_epoch_start(pr, epoch, steps);
    for (int step = 0; step < steps && s == CC_OK; step++) {
        fill_batch(c, &c->data.train_images, &c->data.train_labels, c->order + step * o->batch,
                   o->batch);
        float loss = 0.0f;
        int correct = 0;
        s = cc_trainer_step(c->trainer, c->input, c->labels, &loss, &correct);
        progress_step(pr, loss, correct, o->batch);
    }
    progress_epoch_end(pr);
    if (s != CC_OK)
        return library_fail(err, s, "training step");
    row->train_loss = pr->loss_sum / (double)pr->images;
    row->train_acc = 100.0 * (double)pr->correct / (double)pr->images;
    return TRAIN_EXIT_OK;
}

static int evaluate(train_ctx *c, const train_options *o, epoch_row *row, FILE *err)
{
    const int n = c->data.test_images.count;
    double loss_sum = 0.0;
    long correct_sum = 0;
    for (int at = 0; at < n; at += o->batch) {
        const int count = n - at < o->batch ? n - at : o->batch;
        for (int b = 0; b < count; b++)
            c->order[b] = at + b;
        fill_batch(c, &c->data.test_images, &c->data.test_labels, c->order, count);
        float loss;
        int correct;
        const cc_status s =
            cc_trainer_evaluate(c->trainer, c->input, c->labels, count, &loss, &correct);
        if (s != CC_OK)
            return library_fail(err, s, "evaluation");
        loss_sum += (double)loss * count;
        correct_sum += correct;
    }
    row->test_loss = loss_sum / n;
    row->test_acc = 100.0 * (double)correct_sum / n;
    return TRAIN_EXIT_OK;
}

/* best.ccw when the epoch is the best so far, then trainer.state, train.csv
 * and curves.png. */
static int write_outputs(train_ctx *c, const train_options *o, bool best, FILE *out, FILE *err)
{
    cc_status s;
    if (best && (s = cc_net_save_weights(c->net, c->best_path)) != CC_OK)
        return library_fail(err, s, c->best_path);
    if ((s = cc_trainer_save(c->trainer, c->state_path)) != CC_OK)
        return library_fail(err, s, c->state_path);
    char why[8400];
    if (!history_save(c->csv_path, &c->history, why, sizeof why))
        return fail(err, TRAIN_EXIT_FAILED, "csv", why);
    char title[256];
    snprintf(title, sizeof title, "colconv-train %s", o->net);
    const plot_result plot = history_plot(c->csv_path, c->png_path, title);
    if (plot == PLOT_NO_GNUPLOT && c->history.count == 1)
        fprintf(out, "gnuplot not found on PATH: no curves.png (apt-get install gnuplot-nox)\n");
    else if (plot == PLOT_FAILED)
        fprintf(err, "colconv-train: gnuplot failed: no %s\n", c->png_path);
    return TRAIN_EXIT_OK;
}

static int run_epochs(train_ctx *c, const train_options *o, FILE *out, FILE *err)
{
    train_progress pr;
    progress_init(&pr, err, o->quiet, o->epochs);
    for (int epoch = c->history.count; epoch < o->epochs; epoch++) {
        const double start = train_now_s();
        epoch_row row = {.epoch = epoch + 1};
        int code = train_epoch(c, o, &pr, epoch, &row, err);
        if (code == TRAIN_EXIT_OK)
            code = evaluate(c, o, &row, err);
        if (code != TRAIN_EXIT_OK)
            return code;
        row.seconds = train_now_s() - start;
        const epoch_row *best = history_best(&c->history);
        const bool is_best = best == NULL || row.test_acc > best->test_acc;
        if (!history_add(&c->history, &row))
            return fail(err, TRAIN_EXIT_FAILED, "memory", "out of memory");
        fprintf(out, "epoch %d/%d: train loss %.4f acc %.2f%%, test loss %.4f acc %.2f%%%s, "
                "%.1f s, lr %.3g\n", row.epoch, o->epochs, row.train_loss, row.train_acc,
                row.test_loss, row.test_acc, is_best ? " (best)" : "", row.seconds,
                (double)cc_trainer_learning_rate(c->trainer));
        fflush(out);
        if ((code = write_outputs(c, o, is_best, out, err)) != TRAIN_EXIT_OK)
            return code;
    }
    return TRAIN_EXIT_OK;
}

static void print_times(const train_ctx *c, FILE *out)
{
    double fwd, bwd, opt;
    if (cc_trainer_times(c->trainer, &fwd, &bwd, &opt) != CC_OK)
        return;
    const double total = fwd + bwd + opt > 0 ? fwd + bwd + opt : 1.0;
    fprintf(out, "time in steps: forward %.2f s (%.0f%%), backward %.2f s (%.0f%%), optimizer "
            "%.2f s (%.0f%%)\n", fwd * 1e-3, 100 * fwd / total, bwd * 1e-3, 100 * bwd / total,
            opt * 1e-3, 100 * opt / total);
}

/* What the run is, for logs: the recipe, the data and the machine's side. */
static void print_header(const train_ctx *c, const train_options *o, FILE *out)
{
    static const char *const kinds[] = {"sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw"};
    static const char *const schedules[] = {"constant", "step", "cosine"};
    fprintf(out, "colconv-train %s: %s (%dx%d, %s), %s lr %g, %s schedule, batch %d, %d "
            "epoch%s; %d training and %d test images; %d thread%s, %s\n", cc_version(), o->net,
            c->height, c->width, o->layout == CC_NHWC ? "NHWC" : "NCHW", kinds[o->opt.kind],
            (double)o->opt.lr, schedules[o->opt.schedule], o->batch, o->epochs,
            o->epochs == 1 ? "" : "s", c->data.train_images.count, c->data.test_images.count, cc_get_num_threads(),
            cc_get_num_threads() == 1 ? "" : "s", cc_cpu_isa());
    fflush(out);
}

static int prepare(train_ctx *c, const train_options *o, FILE *err)
{
    if (o->threads > 0)
        cc_set_num_threads(o->threads);
    int code = make_net(c, o, err);
    if (code == TRAIN_EXIT_OK)
        code = load_data(c, o, err);
    if (code == TRAIN_EXIT_OK)
        code = make_trainer(c, o, err);
    if (code == TRAIN_EXIT_OK && !make_dirs(o->out))
        code = fail(err, TRAIN_EXIT_FAILED, o->out, strerror(errno));
    return code;
}

int train_run(const train_options *o, FILE *out, FILE *err)
{
    train_ctx c;
    memset(&c, 0, sizeof c);
    int code = prepare(&c, o, err);
    if (code == TRAIN_EXIT_OK) {
        print_header(&c, o, out);
        const epoch_row *done = history_best(&c.history);
        if (done != NULL)
            fprintf(out, "resuming after epoch %d (best test accuracy %.2f%%)\n",
                    c.history.count, done->test_acc);
        code = run_epochs(&c, o, out, err);
        print_times(&c, out);
        const epoch_row *best = history_best(&c.history);
        if (code == TRAIN_EXIT_OK && best != NULL)
            fprintf(out, "best test accuracy %.2f%% at epoch %d: %s\n", best->test_acc,
                    best->epoch, c.best_path);
    }
    cc_trainer_destroy(c.trainer);
    cc_net_destroy(c.net);
    idx_dataset_free(&c.data);
    history_free(&c.history);
    free(c.input);
    free(c.labels);
    free(c.order);
    return code;
}

int train_main(int argc, char **argv, FILE *out, FILE *err)
{
    train_options o;
    char why[1024];
    if (!train_options_parse(argc, argv, &o, why, sizeof why))
        return fail(err, TRAIN_EXIT_USAGE, "command line", why);
    if (o.help) {
        fputs(train_usage, out);
        return TRAIN_EXIT_OK;
    }
    return train_run(&o, out, err);
}
