/* colconv: CNN convolutions on CPUs, lowered to OpenBLAS SGEMM.
 * The one header to include; it pulls in every part of the public API.
 * Public names start with cc_ / CC_. Valid C11 and C++11 (extern "C").
 *
 *   colconv/version.h  CC_VERSION_* macros (compile time), cc_version() (run time)
 *   colconv/status.h   cc_status codes, cc_last_error(), cc_set_allocator()
 *   colconv/threads.h  the thread count shared with OpenBLAS; how colconv
 *                      behaves inside a host's OpenMP region and pthreads
 *   colconv/conv.h     the conv operator: cc_conv2d_create / _run / _destroy
 *   colconv/layers.h   parameters of pooling, activation, LRN, batch norm
 *   colconv/net.h      networks of layers, weights files, summaries, the zoo
 *   colconv/train.h    training: backward passes, optimisers, one step per call
 *   colconv/onnx.h     ONNX models loaded as networks: cc_net_load_onnx
 *
 * Conventions, everywhere:
 *   - Objects (cc_conv2d, cc_net) are opaque handles made by a create
 *     function and freed by the matching destroy function, which accepts
 *     NULL. Create copies what it is given (parameters, weights, names): the
 *     caller keeps ownership of its own buffers and may free them on return.
 *   - Tensors passed to a run are caller-owned float32 arrays in the layout
 *     the object was created with; colconv reads them only during the call.
 *   - Strings returned (names, messages) are owned by colconv: never free
 *     them. Names are static; cc_last_error() lives until this thread's next
 *     failure; strings owned by a network live as long as the network.
 *   - Every fallible function returns a cc_status; on failure it leaks
 *     nothing, a create function sets its handle to NULL, and
 *     cc_last_error() says what was wrong. colconv never prints (except
 *     where asked to write to a FILE), exits or aborts.
 *   - Every allocation colconv makes goes through the allocator set with
 *     cc_set_allocator (aligned malloc by default); OpenBLAS and the OpenMP
 *     runtime keep their own.
 *
 * Linking: find_package(colconv 0.1) and the target colconv::colconv, or
 * `pkg-config --cflags --libs colconv` (add --static for libcolconv.a). The
 * shared library exports the cc_ functions only. */
#ifndef COLCONV_H
#define COLCONV_H

#include "colconv/version.h"
#include "colconv/status.h"
#include "colconv/threads.h"
#include "colconv/conv.h"
#include "colconv/layers.h"
#include "colconv/net.h"
#include "colconv/train.h"
#include "colconv/onnx.h"

#endif
