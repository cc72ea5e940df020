/* The build plan: which layers fuse into which, which outputs share storage,
 * and which buffer holds each stored output.
 *
 * Nodes run in index order (every input precedes its reader). A "group" is
 * the set of nodes whose outputs live in one storage (its root's):
 *   - fusion: a batch norm after a conv read by nothing else folds into the
 *     conv; ReLU/ReLU6/sigmoid/tanh after such a conv, any activation after
 *     an FC, an add or a batch norm that stays on its own, joins that
 *     layer's sweep. The fused node computes nothing;
 *     its values are the final values its executor writes.
 *   - residual add: an add of two inputs, one computed by a conv (batch norm
 *     folded in, no activation) that nothing else reads, is computed by
 *     that conv, which adds the other input (its "residual") in its
 *     epilogue; the add's activation then joins the conv too. The residual
 *     must be ready when the conv runs: its executor comes before the conv.
 *     When both inputs qualify, the later conv computes the add (ResNet's
 *     projection shortcut, built after the main branch in torchvision's
 *     order). The add joins the conv's group, so the group's storage is
 *     live from the conv's step: it is a buffer distinct from the conv's
 *     input and from the residual, both of which are live at that step (the
 *     GEMM writes the output before its epilogue reads the residual).
 *   - dropout is the identity: it aliases its input.
 *   - in place: a standalone activation or an add may overwrite an input
 *     whose group nobody reads later (never the network's input).
 *   - concat in place (NCHW, batch 1): a concat input's group that only
 *     the concat reads (nobody after it, so nobody sees the slice change
 *     when the concat's own group is overwritten) and that nothing writes
 *     after the concat is moved into the concat's group at its channel
 *     offset (plan->offset): its layers write their slice of the concat's
 *     buffer, which the concat then leaves as it is. At batch 1 an NCHW
 *     slice of channels is a contiguous tensor, which any layer may write.
 *     In NHWC (any batch) a slice is strided: only a conv writes one (its
 *     pixels plan->pixel_stride apart), so there the input's group must be
 *     one conv's sweep (the conv and what is fused into it, no residual,
 *     not the reference path), read by the concat alone. NCHW at batch > 1
 *     stays a copy. The merged group is rooted at its earliest member, so
 *     that its buffer is live from the first slice's step.
 *   - concat chains (NCHW, batch 1): concats that each extend the one
 *     before share one storage, with every tensor they join (pass 1c).
 *   - a concat only a standalone batch norm reads, holding no input in
 *     place, is gathered by the batch norm and has no storage (pass 1d).
 * A group's storage is live from its root's step to the last step that
 * reads any member (the output's group: to the end). Buffers are assigned
 * greedily in step order: a group takes the smallest free buffer that fits,
 * else the largest free one grown to fit, else a new one. */
#include <limits.h>
#include <string.h>

#include "net_internal.h"

/* Per-node bookkeeping of one planning run. */
typedef struct {
    int *readers;       /* how many input slots read the node */
    int *last_reader;   /* last step reading it (INT_MAX for the output) */
    int *group_last;    /* per root: last step reading any member */
    size_t *group_bytes;/* per root: bytes of its storage */
} plan_scratch;

static void scratch_free(plan_scratch *s)
{
    cc__free(s->readers);
    cc__free(s->last_reader);
    cc__free(s->group_last);
    cc__free(s->group_bytes);
}

static cc_status scratch_make(const cc_net *net, plan_scratch *s)
{
    const size_t n = (size_t)net->node_count;
    s->readers = cc__alloc_array(n, sizeof(int), "net_build: plan");
    s->last_reader = cc__alloc_array(n, sizeof(int), "net_build: plan");
    s->group_last = cc__alloc_array(n, sizeof(int), "net_build: plan");
    s->group_bytes = cc__alloc_array(n, sizeof(size_t), "net_build: plan");
    if (s->readers == NULL || s->last_reader == NULL || s->group_last == NULL ||
        s->group_bytes == NULL) {
        scratch_free(s);
        return CC_ERR_NOMEM;
    }
    for (int i = 0; i < net->node_count; i++) {
        s->readers[i] = 0;
        s->last_reader[i] = i;
        s->group_bytes[i] = cc__node_bytes(&net->nodes[i]);
    }
    for (int i = 0; i < net->node_count; i++)
        for (int k = 0; k < net->nodes[i].input_count; k++) {
            const int input = net->nodes[i].inputs[k];
            s->readers[input]++;
            s->last_reader[input] = i;
        }
    s->last_reader[net->node_count - 1] = INT_MAX;
    return CC_OK;
}

void cc__plan_free(cc__plan *plan)
{
    cc__free(plan->exec);
    cc__free(plan->storage);
    cc__free(plan->folded_bn);
    cc__free(plan->has_act);
    cc__free(plan->act);
    cc__free(plan->residual);
    cc__free(plan->offset);
    cc__free(plan->pixel_stride);
    cc__free(plan->buffer);
    cc__free(plan->buffer_bytes);
    memset(plan, 0, sizeof *plan);
}

static cc_status plan_alloc(const cc_net *net, cc__plan *plan)
{
    const size_t n = (size_t)net->node_count;
    memset(plan, 0, sizeof *plan);
    plan->exec = cc__alloc_array(n, sizeof(int), "net_build: plan");
    plan->storage = cc__alloc_array(n, sizeof(int), "net_build: plan");
    plan->folded_bn = cc__alloc_array(n, sizeof(int), "net_build: plan");
    plan->has_act = cc__alloc_array(n, sizeof(bool), "net_build: plan");
    plan->act = cc__alloc_array(n, sizeof(cc_activation), "net_build: plan");
    plan->residual = cc__alloc_array(n, sizeof(int), "net_build: plan");
    plan->offset = cc__alloc_array(n, sizeof(size_t), "net_build: plan");
    plan->pixel_stride = cc__alloc_array(n, sizeof(size_t), "net_build: plan");
    plan->buffer = cc__alloc_array(n, sizeof(int), "net_build: plan");
    plan->buffer_bytes = cc__alloc_array(n, sizeof(size_t), "net_build: plan");
    if (plan->exec == NULL || plan->storage == NULL || plan->folded_bn == NULL ||
        plan->has_act == NULL || plan->act == NULL || plan->residual == NULL ||
        plan->offset == NULL || plan->pixel_stride == NULL || plan->buffer == NULL ||
        plan->buffer_bytes == NULL) {
        cc__plan_free(plan);
        return CC_ERR_NOMEM;
    }
    return CC_OK;
}

/* Puts node i in the group rooted at `root`. */
static void join(cc__plan *plan, plan_scratch *s, int i, int root)
{
    plan->storage[i] = root;
    if (s->last_reader[i] > s->group_last[root])
        s->group_last[root] = s->last_reader[i];
}

/* The activations a conv operator applies itself (cc_act). */
static bool conv_can_apply(const cc_activation *act)
{
    return act->kind == CC_ACTIVATION_RELU || act->kind == CC_ACTIVATION_SIGMOID ||
           act->kind == CC_ACTIVATION_TANH ||
           (act->kind == CC_ACTIVATION_RELU_CAP && act->alpha == 6.0f);
}

/* Node i (a batch norm or an activation) fused into the layer computing its
 * input, when that input has no other reader. */
static bool try_fuse(const cc_net *net, cc__plan *plan, plan_scratch *s, int i)
{
    const cc__node *node = &net->nodes[i];
    const int input = node->inputs[0];
    const int exec = plan->exec[input];
    const cc__node_kind kind = net->nodes[exec].kind;
    if (s->readers[input] != 1 || plan->has_act[exec])
        return false;
    if (node->kind == CC__NODE_BATCHNORM) {
        /* A conv that computes an add has the residual in its values. */
        if (kind != CC__NODE_CONV || plan->folded_bn[exec] >= 0 || plan->residual[exec] >= 0)
            return false;
        plan->folded_bn[exec] = i;
    } else {
        const bool fits = (kind == CC__NODE_CONV && conv_can_apply(&node->u.act)) ||
                          kind == CC__NODE_FC || kind == CC__NODE_ADD ||
                          kind == CC__NODE_BATCHNORM;
        if (!fits)
            return false;
        plan->has_act[exec] = true;
        plan->act[exec] = node->u.act;
    }
    plan->exec[i] = exec;
    join(plan, s, i, plan->storage[input]);
    return true;
}

/* The conv that may compute an add from the add's input `mine`: mine's
 * executor, when it is a conv without an activation or a residual yet and
 * only the add reads mine; else -1. */
static int absorbing_conv(const cc_net *net, const cc__plan *plan, const plan_scratch *s,
                          int mine)
{
    const int conv = plan->exec[mine];
    const bool fits = net->nodes[conv].kind == CC__NODE_CONV && s->readers[mine] == 1 &&
                      !plan->has_act[conv] && plan->residual[conv] < 0;
    return fits ? conv : -1;
}

/* False when add i's only reader is an activation the conv cannot apply:
 * it would fuse into a standalone add, but not into the conv. */
static bool activation_fits_conv(const cc_net *net, const plan_scratch *s, int i)
{
    if (s->readers[i] != 1)
        return true;
    const cc__node *reader = &net->nodes[s->last_reader[i]];
    return reader->kind != CC__NODE_ACTIVATION || conv_can_apply(&reader->u.act);
}

/* Add node i computed by the conv of one of its two inputs (see the top). */
static bool try_fuse_add(const cc_net *net, cc__plan *plan, plan_scratch *s, int i)
{
    const cc__node *node = &net->nodes[i];
    if (node->input_count != 2 || !activation_fits_conv(net, s, i))
        return false;
    int chosen = -1, conv = -1;
    for (int k = 0; k < 2; k++) {
        const int candidate = absorbing_conv(net, plan, s, node->inputs[k]);
        const bool ready = plan->exec[node->inputs[1 - k]] < candidate;
        if (candidate > conv && ready) {
            chosen = k;
            conv = candidate;
        }
    }
    if (chosen < 0)
        return false;
    plan->exec[i] = conv;
    plan->residual[conv] = node->inputs[1 - chosen];
    join(plan, s, i, plan->storage[node->inputs[chosen]]);
    return true;
}

/* A group node i may overwrite at its own step: nobody reads it later. */
static bool writable(const cc__plan *plan, const plan_scratch *s, int input, int i)
{
    const int root = plan->storage[input];
    return root != 0 && s->group_last[root] <= i;
}

/* Node i computes in place into one of its inputs when it can. */
static bool try_in_place(const cc_net *net, cc__plan *plan, plan_scratch *s, int i)
{
    const cc__node *node = &net->nodes[i];
    for (int k = 0; k < node->input_count; k++) {
        const int input = node->inputs[k];
        if (!writable(plan, s, input, i))
            continue;
        bool shared = false;
        for (int j = 0; j < node->input_count; j++)
            shared = shared || (j != k && plan->storage[node->inputs[j]] == plan->storage[input]);
        if (shared)
            continue;
        join(plan, s, i, plan->storage[input]);
        return true;
    }
    return false;
}

/* Pass 1: fusion, aliasing and in-place decisions, in step order. */
static void decide_storage(const cc_net *net, const cc_net_build_options *o, cc__plan *plan,
                           plan_scratch *s)
{
    for (int i = 0; i < net->node_count; i++) {
        const cc__node *node = &net->nodes[i];
        plan->exec[i] = i;
        plan->folded_bn[i] = -1;
        plan->has_act[i] = false;
        plan->residual[i] = -1;
        plan->offset[i] = 0;
        plan->pixel_stride[i] = 0;
        s->group_last[i] = s->last_reader[i];
        plan->storage[i] = i;
        if (node->kind == CC__NODE_DROPOUT) {
            join(plan, s, i, plan->storage[node->inputs[0]]);
            continue;
        }
        const bool fusable =
            node->kind == CC__NODE_BATCHNORM || node->kind == CC__NODE_ACTIVATION;
        if (!o->no_fusion && fusable && try_fuse(net, plan, s, i))
            continue;
        if (!o->no_fusion && node->kind == CC__NODE_ADD && try_fuse_add(net, plan, s, i))
            continue;
        const bool in_place = node->kind == CC__NODE_ACTIVATION || node->kind == CC__NODE_ADD;
        if (!o->no_buffer_reuse && in_place)
            try_in_place(net, plan, s, i);
    }
}

/* Moves every member of group `from` into group `to` (`to` < `from` or not:
 * the merged group is rooted at the smaller), `shift` floats further into
 * the storage. Returns the merged group's root. */
static int merge_group(const cc_net *net, cc__plan *plan, plan_scratch *s, int from, int to,
                       size_t shift)
{
    const int root = from < to ? from : to;
    const int last = s->group_last[from] > s->group_last[to] ? s->group_last[from]
                                                              : s->group_last[to];
    const size_t bytes = s->group_bytes[to];
    for (int j = 0; j < net->node_count; j++) {
        if (plan->storage[j] == from)
            plan->offset[j] += shift;
        if (plan->storage[j] == from || plan->storage[j] == to)
            plan->storage[j] = root;
    }
    s->group_last[root] = last;
    s->group_bytes[root] = bytes;
    return root;
}

/* NHWC: the conv whose sweep alone computes group `group` (its members
 * all executed by it), that writes no residual and not by the reference
 * path, and whose group only node `reader` reads, through one of its
 * inputs (a second would read the strided slice as a tensor of its own);
 * -1 if there is none. */
static int strided_writer(const cc_net *net, const cc__plan *plan, int group, int reader)
{
    const int conv = plan->exec[group];
    const cc__node *x = &net->nodes[conv];
    if (x->kind != CC__NODE_CONV || plan->residual[conv] >= 0 ||
        x->u.conv.algo == CC_ALGO_REFERENCE)
        return -1;
    int reads = 0;
    for (int j = 0; j < net->node_count; j++) {
        if (plan->storage[j] == group && plan->exec[j] != conv)
            return -1;
        if (plan->exec[j] == conv)
            continue;
        for (int k = 0; k < net->nodes[j].input_count; k++)
            if (plan->storage[net->nodes[j].inputs[k]] == group && (j != reader || ++reads > 1))
                return -1;
    }
    return conv;
}

/* Pass 1b: concat inputs computed in place (see the top): NCHW at batch 1,
 * and convs in NHWC. */
static void place_concat_inputs(const cc_net *net, const cc_net_build_options *o,
                                cc__plan *plan, plan_scratch *s)
{
    const bool nhwc = net->compute == CC_NHWC;
    if (o->no_buffer_reuse)
        return;
    for (int i = 0; i < net->node_count; i++) {
        const cc__node *node = &net->nodes[i];
        if (node->kind != CC__NODE_CONCAT || (!nhwc && node->out.n != 1) || plan->exec[i] != i)
            continue;
        const size_t per_channel = cc__concat_channel_floats(net, node);
        size_t offset = 0;
        for (int k = 0; k < node->input_count; k++) {
            const int input = node->inputs[k];
            const int group = plan->storage[input], mine = plan->storage[i];
            const size_t bytes = cc__node_bytes(&net->nodes[input]);
            /* Not the network's input, not already in this concat (a
             * repeated input, or a group placed in place of an earlier
             * one), read by nobody after the concat, holding just this
             * tensor at the start of its storage. */
            bool fits = group != 0 && group != mine && s->group_last[group] <= i &&
                        s->group_bytes[group] == bytes && plan->offset[input] == 0;
            const int writer = fits && nhwc ? strided_writer(net, plan, group, i) : -1;
            fits = fits && (!nhwc || writer >= 0);
            if (fits) {
                merge_group(net, plan, s, group, mine, offset);
                if (nhwc)
                    plan->pixel_stride[writer] = (size_t)node->out.c;
            }
            offset += (size_t)net->nodes[input].out.c * per_channel;
        }
    }
}

/* Pass 1c: chains of concats that each extend the one before (DenseNet's:
 * layer k's concat joins the block's input and the k - 1 layers' features,
 * the next one the same and one more), NCHW at batch 1. Every tensor a
 * chain joins is read again by each later concat, so pass 1b leaves them
 * out, and each concat copied them all again. Here the chain's concats
 * share one storage, each a prefix of the next at offset 0, and every
 * joined tensor is computed at its channel offset there, the same in every
 * concat of the chain: no concat copies anything. All or nothing: every
 * concat's storage holds nothing written after it (no in-place layer on
 * it), and every joined tensor's storage holds just that tensor (its
 * fused layers), written before it is joined, and not the network's
 * input. */

/* The concat after `concat` whose inputs begin with all of concat's, in
 * order, and add more; -1 if none. */
static int next_in_chain(const cc_net *net, int concat)
{
    const cc__node *c = &net->nodes[concat];
    for (int j = concat + 1; j < net->node_count; j++) {
        const cc__node *n = &net->nodes[j];
        if (n->kind != CC__NODE_CONCAT || n->input_count <= c->input_count)
            continue;
        bool prefix = true;
        for (int k = 0; k < c->input_count && prefix; k++)
            prefix = n->inputs[k] == c->inputs[k];
        if (prefix)
            return j;
    }
    return -1;
}

/* Whether group `group` has no member computed after node `last`. */
static bool untouched_after(const cc_net *net, const cc__plan *plan, int group, int last)
{
    for (int j = last + 1; j < net->node_count; j++)
        if (plan->storage[j] == group)
            return false;
    return true;
}

/* Whether input k of the chain's last concat `last` can be (or is)
 * computed at its channel offset `slot` of the shared storage. */
static bool joinable(const cc_net *net, const cc__plan *plan, const plan_scratch *s,
                     const int *chain, int length, int input, size_t slot)
{
    const int group = plan->storage[input];
    for (int t = 0; t < length; t++)
        if (group == plan->storage[chain[t]])
            return plan->offset[input] == slot;
    if (group == 0 || !untouched_after(net, plan, group, input) ||
        s->group_bytes[group] != cc__node_bytes(&net->nodes[input]))
        return false;
    for (int j = 0; j < net->node_count; j++)
        if (plan->storage[j] == group && plan->offset[j] != 0)
            return false;
    return true;
}

static void share_concat_chain(const cc_net *net, cc__plan *plan, plan_scratch *s,
                               const int *chain, int length)
{
    const cc__node *last = &net->nodes[chain[length - 1]];
    const size_t per_channel = cc__concat_channel_floats(net, last);
    for (int t = 0; t < length; t++)
        if (!untouched_after(net, plan, plan->storage[chain[t]], chain[t]) ||
            plan->offset[chain[t]] != 0)
            return;
    size_t slot = 0;
    for (int k = 0; k < last->input_count; k++) {
        for (int j = 0; j < k; j++)
            if (last->inputs[j] == last->inputs[k])
                return;
        if (!joinable(net, plan, s, chain, length, last->inputs[k], slot))
            return;
        slot += (size_t)net->nodes[last->inputs[k]].out.c * per_channel;
    }
    int shared = plan->storage[chain[length - 1]];
    for (int t = 0; t < length - 1; t++)
        shared = merge_group(net, plan, s, plan->storage[chain[t]], shared, 0);
    slot = 0;
    for (int k = 0; k < last->input_count; k++) {
        const int group = plan->storage[last->inputs[k]];
        if (group != shared)
            shared = merge_group(net, plan, s, group, shared, slot);
        slot += (size_t)net->nodes[last->inputs[k]].out.c * per_channel;
    }
}

static cc_status share_concat_chains(const cc_net *net, const cc_net_build_options *o,
                                     cc__plan *plan, plan_scratch *s)
{
    if (o->no_buffer_reuse || net->compute == CC_NHWC)
        return CC_OK;
    int *chain = cc__alloc_array((size_t)net->node_count, sizeof(int), "net_build: plan");
    bool *chained = cc__alloc_array((size_t)net->node_count, sizeof(bool), "net_build: plan");
    if (chain == NULL || chained == NULL) {
        cc__free(chain);
        cc__free(chained);
        return CC_ERR_NOMEM;
    }
    for (int i = 0; i < net->node_count; i++)
        chained[i] = false;
    for (int i = 0; i < net->node_count; i++) {
        if (net->nodes[i].kind != CC__NODE_CONCAT || net->nodes[i].out.n != 1 || chained[i])
            continue;
        int length = 0;
        for (int c = i; c >= 0; c = next_in_chain(net, c)) {
            chain[length++] = c;
            chained[c] = true;
        }
        if (length > 1)
            share_concat_chain(net, plan, s, chain, length);
    }
    cc__free(chain);
    cc__free(chained);
    return CC_OK;
}

/* Pass 1d: a concat read by nothing but a standalone batch norm, whose
 * storage holds no input computed in place, is never written: the batch
 * norm reads the concat's inputs where they are
 * (cc__batchnorm_act_gather_run). The concat's exec is the batch norm
 * and its group gets no buffer (not without fusion, nor when every layer
 * is to have a buffer of its own). In NHWC, and in NCHW at batch > 1, where
 * in place a concat holds at most a few of its inputs (DenseNet's concat
 * ending a block: its last feature, and it copied the others), this runs
 * before the inputs are placed (pass 1b then passes gathered concats by);
 * in NCHW at batch 1, where the concat holds them all, after. */
static bool gathers_first(const cc_net *net)
{
    return net->compute == CC_NHWC || net->nodes[0].out.n != 1;
}

static void gather_into_batchnorms(const cc_net *net, const cc_net_build_options *o,
                                   cc__plan *plan, plan_scratch *s)
{
    if (o->no_fusion || o->no_buffer_reuse)
        return;
    for (int i = 1; i < net->node_count - 1; i++) {
        const int reader = s->last_reader[i];
        if (net->nodes[i].kind != CC__NODE_CONCAT || s->readers[i] != 1 ||
            net->nodes[reader].kind != CC__NODE_BATCHNORM || plan->exec[reader] != reader ||
            plan->storage[i] != i)
            continue;
        bool alone = true;
        for (int j = 0; j < net->node_count && alone; j++)
            alone = j == i || plan->storage[j] != i;
        if (!alone)
            continue;
        plan->exec[i] = reader;
        /* The inputs are read at the batch norm's step: their storage
         * stays live until then. */
        for (int k = 0; k < net->nodes[i].input_count; k++) {
            const int group = plan->storage[net->nodes[i].inputs[k]];
            if (s->group_last[group] < reader)
                s->group_last[group] = reader;
        }
    }
}

/* The free buffer for `bytes`: best fit, else the largest (to be grown);
 * -1 if none is free. owner[b] is the root holding buffer b, or -1. */
static int pick_free(const cc__plan *plan, const int *owner, size_t bytes)
{
    int best = -1, largest = -1;
    for (int b = 0; b < plan->buffer_count; b++) {
        if (owner[b] >= 0)
            continue;
        const size_t size = plan->buffer_bytes[b];
        if (size >= bytes && (best < 0 || size < plan->buffer_bytes[best]))
            best = b;
        if (largest < 0 || size > plan->buffer_bytes[largest])
            largest = b;
    }
    return best >= 0 ? best : largest;
}

/* A gathered concat (pass 1d) is the one root whose executor is another. */
static bool owns_storage(const cc_net *net, const cc__plan *plan, int i)
{
    return i > 0 && plan->storage[i] == i && plan->exec[i] == i &&
           net->nodes[i].kind != CC__NODE_DROPOUT;
}

/* Pass 2: buffers for the groups. `owner` has node_count entries. */
static void assign_buffers(const cc_net *net, const cc_net_build_options *o, cc__plan *plan,
                           const plan_scratch *s, int *owner)
{
    plan->buffer_count = 0;
    for (int i = 0; i < net->node_count; i++) {
        plan->buffer[i] = -1;
        for (int b = 0; b < plan->buffer_count && !o->no_buffer_reuse; b++)
            if (owner[b] >= 0 && s->group_last[owner[b]] < i)
                owner[b] = -1;
        if (!owns_storage(net, plan, i))
            continue;
        const size_t bytes = s->group_bytes[i];
        int b = o->no_buffer_reuse ? -1 : pick_free(plan, owner, bytes);
        if (b < 0) {
            b = plan->buffer_count++;
            plan->buffer_bytes[b] = 0;
        }
        if (plan->buffer_bytes[b] < bytes)
            plan->buffer_bytes[b] = bytes;
        owner[b] = i;
        plan->buffer[i] = b;
    }
}

/* Pass 3: each group in the middle of its buffer (to a cache line). The
 * layers split their outputs over the threads in consecutive runs of
 * pixels, so that at 2 threads the first thread writes a tensor's first
 * half and the second its second; a buffer holds tensors of different
 * sizes over a run, and from its start the halves of a small tensor fall
 * where a large one's second half was: each line there was last written
 * by the other core, which hands it over before this one can write it
 * (on this host one core reads the other's writes at a third of its own
 * rate). Centred, every tensor's halves fall on the same side of the
 * middle. Zen 5, 2 threads, two builds of each network alternating in one
 * process, layers' bests summed / wall medians: MobileNet-v2 3.40 / 4.42
 * -> 3.07 / 4.00 ms, SqueezeNet 1.1 2.95 / 3.67 -> 2.85 / 3.37,
 * DenseNet-121 20.2 / 22.6 -> 19.2 / 21.6, ResNet-50 21.8 / 23.6 -> 21.1 /
 * 23.1; GoogLeNet, AlexNet and 1 thread within the noise. */
#define CACHE_LINE_BYTES ((size_t)64)

static void center_groups(const cc_net *net, cc__plan *plan, const plan_scratch *s)
{
    for (int j = 0; j < net->node_count; j++) {
        const int root = plan->storage[j];
        if (root < 0 || plan->buffer[root] < 0)
            continue;
        const size_t spare = plan->buffer_bytes[plan->buffer[root]] - s->group_bytes[root];
        plan->offset[j] += spare / 2 / CACHE_LINE_BYTES * CACHE_LINE_BYTES / sizeof(float);
    }
}

/* The two totals; CC_ERR_INVALID_ARG if they overflow size_t. */
static cc_status total_bytes(const cc_net *net, cc__plan *plan)
{
    bool ok = true;
    plan->planned_bytes = 0;
    for (int b = 0; b < plan->buffer_count; b++)
        ok = ok && cc__add_size(plan->planned_bytes, plan->buffer_bytes[b], &plan->planned_bytes);
    plan->unplanned_bytes = 0;
    for (int i = 1; i < net->node_count; i++)
        ok = ok && cc__add_size(plan->unplanned_bytes, cc__node_bytes(&net->nodes[i]),
                                &plan->unplanned_bytes);
    return ok ? CC_OK
              : cc__fail(CC_ERR_INVALID_ARG, "net_build: the activations do not fit in memory");
}

cc_status cc__plan_make(const cc_net *net, const cc_net_build_options *options, cc__plan *plan)
{
    const cc_net_build_options defaults = {0};
    const cc_net_build_options *o = options != NULL ? options : &defaults;
    plan_scratch s = {0};
    CC__NET_TRY(scratch_make(net, &s));
    cc_status status = plan_alloc(net, plan);
    int *owner = status == CC_OK
                     ? cc__alloc_array((size_t)net->node_count, sizeof(int), "net_build: plan")
                     : NULL;
    if (status == CC_OK && owner == NULL)
        status = CC_ERR_NOMEM;
    if (status == CC_OK) {
        decide_storage(net, o, plan, &s);
        if (gathers_first(net))
            gather_into_batchnorms(net, o, plan, &s);
        place_concat_inputs(net, o, plan, &s);
        status = share_concat_chains(net, o, plan, &s);
    }
    if (status == CC_OK && !gathers_first(net))
        gather_into_batchnorms(net, o, plan, &s);
    if (status == CC_OK) {
        assign_buffers(net, o, plan, &s, owner);
        center_groups(net, plan, &s);
        status = total_bytes(net, plan);
    }
    if (status != CC_OK && plan->exec != NULL)
        cc__plan_free(plan);
    cc__free(owner);
    scratch_free(&s);
    return status;
}
