/* colconv-train (tools/train/): the IDX reader on files written here
 * (gzipped and plain) and every way they can be broken; the command line;
 * the CSV; and whole runs of the program (train_main, what main() calls) on
 * a tiny synthetic dataset: one epoch writes its outputs, a resumed run
 * gives what an uninterrupted one gives, and every bad dataset, option or
 * directory exits 2 having written nothing. */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "history.h"
#include "idx.h"
#include "options.h"
#include "run.h"

#define TRAIN_N 80
#define TEST_N 24
#define SIDE 20 /* smaller than LeNet's 28: the images are padded */

static char root[256]; /* a fresh directory per test */

static int setup(void **state)
{
    (void)state;
    static int serial;
    snprintf(root, sizeof root, "/tmp/colconv_test_train_tool_%d_%d", (int)getpid(), serial++);
    assert_int_equal(mkdir(root, 0777), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *path, size_t size, const char *name)
{
    snprintf(path, size, "%s/%s", root, name);
}

static bool exists(const char *name)
{
    char path[512];
    struct stat st;
    path_in(path, sizeof path, name);
    return stat(path, &st) == 0;
}

/* ---- writing IDX files ---- */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* An IDX file: magic, sizes, then body; gzipped when gz. */
static void write_idx(const char *name, bool gz, uint32_t magic, const uint32_t *sizes,
                      int dims, const unsigned char *body, size_t body_size)
{
    unsigned char header[16];
    put_be32(header, magic);
    for (int d = 0; d < dims; d++)
        put_be32(header + 4 + 4 * d, sizes[d]);
    char path[512];
    path_in(path, sizeof path, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(gzwrite(f, header, 4 + 4 * (unsigned)dims), 4 + 4 * dims);
        if (body_size > 0)
            assert_int_equal(gzwrite(f, body, (unsigned)body_size), (int)body_size);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(header, 1, 4 + 4 * (size_t)dims, f), 4 + 4 * (size_t)dims);
        assert_int_equal(fwrite(body, 1, body_size, f), body_size);
        assert_int_equal(fclose(f), 0);
    }
}

/* A learnable toy: class k is a bright bar at row 2k (plus seeded noise). */
static void make_images(int count, int side, unsigned char *images, unsigned char *labels,
                        uint64_t seed)
{
    tst_rng rng;
    tst_rng_seed(&rng, seed);
    for (int i = 0; i < count; i++) {
        const int k = tst_rng_int(&rng, 0, 9);
        labels[i] = (unsigned char)k;
        unsigned char *img = images + (size_t)i * side * side;
        for (int p = 0; p < side * side; p++)
            img[p] = (unsigned char)tst_rng_int(&rng, 0, 60);
        for (int x = 0; x < side; x++)
            img[(2 * k % side) * side + x] = 255;
    }
}

/* The dataset's four files in root/data (gzipped or not). */
static void write_dataset(bool gz, int side)
{
    char dir[512];
    path_in(dir, sizeof dir, "data");
    mkdir(dir, 0777);
    static unsigned char images[TRAIN_N * 32 * 32], labels[TRAIN_N];
    const char *suffix = gz ? ".gz" : "";
    const struct {
        const char *images, *labels;
        int count;
        uint64_t seed;
    } sets[2] = {{"data/train-images-idx3-ubyte", "data/train-labels-idx1-ubyte", TRAIN_N, 1},
                 {"data/t10k-images-idx3-ubyte", "data/t10k-labels-idx1-ubyte", TEST_N, 2}};
    for (int s = 0; s < 2; s++) {
        char name[128];
        make_images(sets[s].count, side, images, labels, sets[s].seed);
        const uint32_t isizes[3] = {(uint32_t)sets[s].count, (uint32_t)side, (uint32_t)side};
        snprintf(name, sizeof name, "%s%s", sets[s].images, suffix);
        write_idx(name, gz, 0x803, isizes, 3, images, (size_t)sets[s].count * side * side);
        const uint32_t lsizes[1] = {(uint32_t)sets[s].count};
        snprintf(name, sizeof name, "%s%s", sets[s].labels, suffix);
        write_idx(name, gz, 0x801, lsizes, 1, labels, (size_t)sets[s].count);
    }
}

/* ---- the IDX reader ---- */

static void test_idx_read_both_forms(void **state)
{
    (void)state;
    const unsigned char body[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint32_t sizes[3] = {2, 3, 2};
    for (int gz = 0; gz < 2; gz++) {
        write_idx("a.idx", gz, 0x803, sizes, 3, body, sizeof body);
        char path[512], err[512];
        path_in(path, sizeof path, "a.idx");
        idx_file f;
        if (!idx_read(path, 3, &f, err, sizeof err))
            fail_msg("%s", err);
        assert_int_equal(f.count, 2);
        assert_int_equal(f.rows, 3);
        assert_int_equal(f.cols, 2);
        assert_memory_equal(f.data, body, sizeof body);
        idx_free(&f);
    }
}

/* One broken file: idx_read fails with a message containing `expect`. */
static void expect_idx_error(const char *what, uint32_t magic, const uint32_t *sizes, int dims,
                             size_t body_size, int read_dims, const char *expect)
{
    static unsigned char body[4096];
    for (int gz = 0; gz < 2; gz++) {
        write_idx("bad.idx", gz, magic, sizes, dims, body, body_size);
        char path[512], err[512] = "";
        path_in(path, sizeof path, "bad.idx");
        idx_file f;
        if (idx_read(path, read_dims, &f, err, sizeof err))
            fail_msg("%s (%s): read", what, gz ? "gzip" : "plain");
        assert_null(f.data);
        if (strstr(err, expect) == NULL || strstr(err, "bad.idx") == NULL)
            fail_msg("%s (%s): message \"%s\" lacks \"%s\" or the file", what,
                     gz ? "gzip" : "plain", err, expect);
    }
}

static void test_idx_errors(void **state)
{
    (void)state;
    const uint32_t ok[3] = {3, 4, 5}, zero[3] = {3, 0, 5}, huge[3] = {3, 70000, 5};
    expect_idx_error("magic", 0x804, ok, 3, 60, 3, "bad magic");
    expect_idx_error("labels read as images", 0x801, ok, 1, 3, 3, "bad magic");
    expect_idx_error("element type", 0x903, ok, 3, 60, 3, "bad magic");
    expect_idx_error("zero rows", 0x803, zero, 3, 0, 3, "dimension 1 is 0");
    expect_idx_error("huge rows", 0x803, huge, 3, 0, 3, "dimension 1 is 70000");
    expect_idx_error("truncated", 0x803, ok, 3, 59, 3, "truncated");
    expect_idx_error("trailing bytes", 0x803, ok, 3, 61, 3, "bytes after");
    expect_idx_error("short header", 0x803, ok, 1, 0, 3, "no IDX header");
    expect_idx_error("empty", 0x803, ok, 0, 0, 3, "no IDX header");
    char path[512], err[512];
    path_in(path, sizeof path, "missing.idx");
    idx_file f;
    assert_false(idx_read(path, 1, &f, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    /* a gzip stream cut in the middle */
    static unsigned char body[3000];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (unsigned char)(i * 7919 >> 3);
    const uint32_t sizes[3] = {3, 40, 25};
    write_idx("cut.idx", true, 0x803, sizes, 3, body, sizeof body);
    path_in(path, sizeof path, "cut.idx");
    assert_int_equal(truncate(path, 200), 0);
    assert_false(idx_read(path, 3, &f, err, sizeof err));
    assert_non_null(strstr(err, "cut.idx"));
}

static void test_dataset_checks(void **state)
{
    (void)state;
    char dir[512], err[1024];
    path_in(dir, sizeof dir, "data");
    idx_dataset ds;
    write_dataset(true, SIDE);
    if (!idx_dataset_load(dir, 10, 28, 28, &ds, err, sizeof err))
        fail_msg("%s", err);
    assert_int_equal(ds.train_images.count, TRAIN_N);
    assert_int_equal(ds.test_labels.count, TEST_N);
    idx_dataset_free(&ds);
    assert_false(idx_dataset_load(dir, 10, 16, 28, &ds, err, sizeof err));
    assert_non_null(strstr(err, "larger than the network's 16x28 input"));
    assert_false(idx_dataset_load(dir, 5, 28, 28, &ds, err, sizeof err));
    assert_non_null(strstr(err, "out of range"));
    assert_null(ds.train_images.data);
}

/* ---- options and the CSV ---- */

static bool parse(train_options *o, char *err, size_t size, int argc, const char **argv)
{
    return train_options_parse(argc, (char **)argv, o, err, size);
}

static void test_options(void **state)
{
    (void)state;
    train_options o;
    char err[512];
    const char *good[] = {"colconv-train", "--net",  "lenet5",      "--optimizer=sgd",
                          "--momentum",    "0.9",    "--nesterov",  "--schedule",
                          "step:3:0.5",    "--out",  "x",           "--layout",
                          "nhwc",          "--clip", "2",           "--epochs",
                          "4"};
    assert_true(parse(&o, err, sizeof err, 17, good));
    assert_string_equal(o.net, "lenet5");
    assert_true(o.opt.kind == CC_OPT_SGD && o.opt.lr == 0.01f && o.opt.momentum == 0.9f);
    assert_true(o.opt.nesterov && o.opt.clip_norm == 2.0f && o.layout == CC_NHWC);
    assert_true(o.opt.schedule == CC_LR_STEP && o.opt.step_size == 3 && o.opt.gamma == 0.5f);
    const char *defaults[] = {"colconv-train", "--out", "x", "--epochs", "7"};
    assert_true(parse(&o, err, sizeof err, 5, defaults));
    assert_true(o.opt.kind == CC_OPT_ADAM && o.opt.lr == 1.5e-3f && o.batch == 64);
    assert_true(o.opt.schedule == CC_LR_COSINE && o.opt.t_max == 7);
    const struct {
        const char *option, *value, *expect;
    } bad[] = {{"--lr", "-1", "--lr -1"},          {"--lr", "0", "must be > 0"},
               {"--batch", "0", "--batch 0"},      {"--epochs", "2x", "--epochs 2x"},
               {"--optimizer", "lbfgs", "lbfgs"},  {"--schedule", "step:0", "step:0"},
               {"--layout", "nchw16c", "nchw16c"}, {"--bogus", "1", "unknown option --bogus"},
               {"--seed", "-3", "--seed -3"},      {"--net", "", "must not be empty"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *argv[] = {"colconv-train", "--out", "x", bad[i].option, bad[i].value};
        if (parse(&o, err, sizeof err, 5, argv))
            fail_msg("%s %s accepted", bad[i].option, bad[i].value);
        if (strstr(err, bad[i].expect) == NULL)
            fail_msg("%s %s: \"%s\" lacks \"%s\"", bad[i].option, bad[i].value, err,
                     bad[i].expect);
    }
    const char *no_out[] = {"colconv-train", "--epochs", "3"};
    assert_false(parse(&o, err, sizeof err, 3, no_out));
    const char *no_value[] = {"colconv-train", "--out"};
    assert_false(parse(&o, err, sizeof err, 2, no_value));
    assert_non_null(strstr(err, "needs a value"));
}

static void test_history_round_trip(void **state)
{
    (void)state;
    train_history h = {NULL, 0, 0}, back;
    for (int e = 1; e <= 3; e++) {
        const epoch_row r = {e, 1.0 / e, 50 + e, 1.5 / e, 40 + 2 * e, 0.5 * e};
        assert_true(history_add(&h, &r));
    }
    char path[512], err[512];
    path_in(path, sizeof path, "h.csv");
    assert_true(history_save(path, &h, err, sizeof err));
    assert_false(exists("h.csv.tmp"));
    assert_true(history_load(path, &back, err, sizeof err));
    assert_int_equal(back.count, 3);
    assert_int_equal(history_best(&back)->epoch, 3);
    assert_float_equal(back.rows[1].test_loss, 0.75, 1e-6);
    history_free(&back);
    FILE *f = fopen(path, "a");
    fputs("5,1,2,3,4,5\n", f); /* epoch 4 missing */
    fclose(f);
    assert_false(history_load(path, &back, err, sizeof err));
    assert_non_null(strstr(err, "line 5"));
    history_free(&h);
}

/* ---- whole runs ---- */

/* colconv-train with these arguments (after --data DIR/data --out DIR/OUT
 * --batch 16 --threads 1 --quiet) and its exit status. */
static int run_tool(const char *out, int extra_count, const char *const *extra)
{
    char data[512], outdir[512];
    path_in(data, sizeof data, "data");
    path_in(outdir, sizeof outdir, out);
    const char *argv[32] = {"colconv-train", "--data",    data, "--out",   outdir,
                            "--batch",       "16",        "--threads", "1", "--quiet"};
    int argc = 10;
    for (int i = 0; i < extra_count; i++)
        argv[argc++] = extra[i];
    FILE *sink = fopen("/dev/null", "w");
    assert_non_null(sink);
    const int code = train_main(argc, (char **)argv, sink, sink);
    fclose(sink);
    return code;
}

static char *read_text(const char *name)
{
    char path[512];
    size_t size;
    path_in(path, sizeof path, name);
    unsigned char *bytes = tst_read_file(path, &size);
    char *text = realloc(bytes, size + 1);
    assert_non_null(text);
    text[size] = '\0';
    return text;
}

/* The CSV without its seconds column (the one thing a rerun may change). */
static void strip_seconds(char *csv)
{
    char *w = csv;
    for (char *line = csv; *line != '\0';) {
        char *end = strchr(line, '\n');
        const size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        char *comma = line + len;
        while (comma > line && *comma != ',')
            comma--;
        memmove(w, line, (size_t)(comma - line));
        w += comma - line;
        *w++ = '\n';
        line += len + (end != NULL);
    }
    *w = '\0';
}

static void test_one_epoch(void **state)
{
    (void)state;
    write_dataset(true, SIDE);
    const char *args[] = {"--epochs", "1"};
    assert_int_equal(run_tool("run", 2, args), TRAIN_EXIT_OK);
    assert_true(exists("run/best.ccw") && exists("run/trainer.state"));
    char *csv = read_text("run/train.csv");
    int epoch;
    double train_loss, train_acc, test_loss, test_acc, seconds;
    const char *row = strchr(csv, '\n') + 1;
    assert_int_equal(sscanf(row, "%d,%lf,%lf,%lf,%lf,%lf", &epoch, &train_loss, &train_acc,
                            &test_loss, &test_acc, &seconds), 6);
    assert_int_equal(epoch, 1);
    assert_true(train_loss > 0 && train_loss < 10 && test_acc >= 0 && test_acc <= 100);
    assert_true(seconds > 0);
    free(csv);
    /* the weights load into a fresh network of the same shape */
    cc_net *net;
    assert_int_equal(cc_net_zoo_create("lenet", CC_NCHW, 1, &net), CC_OK);
    char path[512];
    path_in(path, sizeof path, "run/best.ccw");
    assert_int_equal(cc_net_load_weights(net, path), CC_OK);
    cc_net_destroy(net);
    if (access("/usr/bin/gnuplot", X_OK) == 0)
        assert_true(exists("run/curves.png"));
}

/* Plain files, LeNet-5 (32x32, its softmax appended), NHWC. */
static void test_plain_files_lenet5(void **state)
{
    (void)state;
    write_dataset(false, 28);
    const char *args[] = {"--epochs", "1", "--net", "lenet5", "--layout", "nhwc",
                          "--optimizer", "sgd", "--momentum", "0.9"};
    assert_int_equal(run_tool("run", 10, args), TRAIN_EXIT_OK);
    assert_true(exists("run/train.csv"));
}

/* Two epochs at once, or one and then --resume to two: the same record. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    write_dataset(true, SIDE);
    const char *two[] = {"--epochs", "2"}, *one[] = {"--epochs", "1"};
    const char *resume[] = {"--epochs", "2", "--resume"};
    assert_int_equal(run_tool("straight", 2, two), TRAIN_EXIT_OK);
    assert_int_equal(run_tool("resumed", 2, one), TRAIN_EXIT_OK);
    assert_int_equal(run_tool("resumed", 3, resume), TRAIN_EXIT_OK);
    char *a = read_text("straight/train.csv"), *b = read_text("resumed/train.csv");
    strip_seconds(a);
    strip_seconds(b);
    assert_string_equal(a, b);
    free(a), free(b);
    /* without --resume an existing run is refused and left alone */
    char *before = read_text("resumed/train.csv");
    assert_int_equal(run_tool("resumed", 2, two), TRAIN_EXIT_USAGE);
    char *after = read_text("resumed/train.csv");
    assert_string_equal(before, after);
    free(before), free(after);
}

/* Replaces one dataset file with a broken one; the run exits 2 and makes no
 * output directory. */
static void expect_run_error(const char *what, const char *file, uint32_t magic,
                             const uint32_t *sizes, int dims, const unsigned char *body,
                             size_t body_size)
{
    write_dataset(true, SIDE);
    if (file != NULL)
        write_idx(file, true, magic, sizes, dims, body, body_size);
    const char *args[] = {"--epochs", "1"};
    if (run_tool("out/nested", 2, args) != TRAIN_EXIT_USAGE)
        fail_msg("%s: exit status not 2", what);
    if (exists("out"))
        fail_msg("%s: wrote its output directory", what);
}

static void test_dataset_errors_write_nothing(void **state)
{
    (void)state;
    static unsigned char body[TRAIN_N * 32 * 32];
    const uint32_t images[3] = {TRAIN_N, SIDE, SIDE}, fewer[1] = {TRAIN_N - 1};
    const uint32_t big[3] = {TEST_N, 30, 30}, other[3] = {TEST_N, SIDE + 1, SIDE};
    const uint32_t labels[1] = {TRAIN_N};
    const char *ti = "data/train-images-idx3-ubyte.gz", *tl = "data/train-labels-idx1-ubyte.gz";
    expect_run_error("bad magic", ti, 0x802, images, 3, body, TRAIN_N * SIDE * SIDE);
    expect_run_error("truncated", ti, 0x803, images, 3, body, TRAIN_N * SIDE * SIDE - 1);
    expect_run_error("count mismatch", tl, 0x801, fewer, 1, body, TRAIN_N - 1);
    expect_run_error("too large", "data/t10k-images-idx3-ubyte.gz", 0x803, big, 3, body,
                     TEST_N * 30 * 30);
    expect_run_error("sizes differ", "data/t10k-images-idx3-ubyte.gz", 0x803, other, 3, body,
                     TEST_N * (SIDE + 1) * SIDE);
    memset(body, 3, TRAIN_N);
    body[TRAIN_N / 2] = 10;
    expect_run_error("label out of range", tl, 0x801, labels, 1, body, TRAIN_N);
    write_dataset(true, SIDE);
    char path[512];
    path_in(path, sizeof path, "data/t10k-labels-idx1-ubyte.gz");
    assert_int_equal(remove(path), 0);
    const char *args[] = {"--epochs", "1"};
    assert_int_equal(run_tool("out/nested", 2, args), TRAIN_EXIT_USAGE);
    assert_false(exists("out"));
}

static void test_option_errors_write_nothing(void **state)
{
    (void)state;
    write_dataset(true, SIDE);
    const char *const cases[][4] = {
        {"--net", "alexnet", NULL, NULL},          /* three channels */
        {"--net", "resnet9000", NULL, NULL},       /* unknown */
        {"--optimizer", "sgd", "--nesterov", NULL}, /* no momentum: the library says */
        {"--momentum", "1.5", NULL, NULL},
        {"--batch", "1000", NULL, NULL},           /* more than the training set */
        {"--resume", NULL, NULL, NULL},            /* nothing to resume */
        {"--lr", "fast", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = 0;
        while (n < 4 && cases[i][n] != NULL)
            n++;
        if (run_tool("out", n, cases[i]) != TRAIN_EXIT_USAGE)
            fail_msg("case %zu (%s %s): exit status not 2", i, cases[i][0],
                     cases[i][1] != NULL ? cases[i][1] : "");
        if (exists("out"))
            fail_msg("case %zu (%s): wrote its output directory", i, cases[i][0]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_idx_read_both_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_files_lenet5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dataset_errors_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_errors_write_nothing, setup, teardown),
    };
    return cmocka_run_group_tests_name("train_tool", tests, NULL, NULL);
}
