/* A scan of protobuf's wire format that bounds how deep messages nest,
 * before protobuf-c unpacks them recursively (one C stack frame a level).
 * Each length-delimited field that the schema declares a message is scanned
 * one level down; every other field is skipped by its wire type. Each byte
 * is read once, at its innermost level, so the scan is linear in the size. */
#include "onnx_internal.h"

/* Reads a varint at data[*pos] (at most 10 bytes, within size). */
static bool read_varint(const uint8_t *data, size_t size, size_t *pos, uint64_t *value)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && *pos < size; shift += 7) {
        const uint8_t byte = data[(*pos)++];
        v |= (uint64_t)(byte & 0x7f) << (shift < 64 ? shift : 63);
        if ((byte & 0x80) == 0) {
            *value = v;
            return true;
        }
    }
    return false;
}

static cc_status truncated(size_t pos)
{
    return cc__fail(CC_ERR_FORMAT, "onnx: not a valid ONNX model: protobuf data truncated or "
                                   "corrupt near byte %zu",
                    pos);
}

static cc_status scan(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data,
                      size_t size, size_t base, int depth, int max_depth)
{
    if (depth > max_depth)
        return cc__fail(CC_ERR_FORMAT,
                        "onnx: messages nested more than %d deep (near byte %zu): refused",
                        max_depth, base);
    size_t pos = 0;
    while (pos < size) {
        uint64_t key, value;
        if (!read_varint(data, size, &pos, &key))
            return truncated(base + pos);
        switch (key & 7) {
        case 0: /* varint */
            if (!read_varint(data, size, &pos, &value))
                return truncated(base + pos);
            break;
        case 1: /* 64-bit */
        case 5: /* 32-bit */ {
            const size_t width = (key & 7) == 1 ? 8 : 4;
            if (size - pos < width)
                return truncated(base + pos);
            pos += width;
            break;
        }
        case 2: { /* length-delimited */
            if (!read_varint(data, size, &pos, &value) || value > size - pos)
                return truncated(base + pos);
            const uint64_t number = key >> 3;
            const ProtobufCFieldDescriptor *field =
                number <= UINT32_MAX && descriptor != NULL
                    ? protobuf_c_message_descriptor_get_field(descriptor, (unsigned)number)
                    : NULL;
            if (field != NULL && field->type == PROTOBUF_C_TYPE_MESSAGE)
                CC__TRY_ONNX(scan(field->descriptor, data + pos, (size_t)value, base + pos,
                                  depth + 1, max_depth));
            pos += (size_t)value;
            break;
        }
        default:
            return cc__fail(CC_ERR_FORMAT,
                            "onnx: not a valid ONNX model: wire type %u near byte %zu",
                            (unsigned)(key & 7), base + pos);
        }
    }
    return CC_OK;
}

cc_status cc__onnx_wire_check(const ProtobufCMessageDescriptor *descriptor,
                              const uint8_t *data, size_t size, int max_depth)
{
    return scan(descriptor, data, size, 0, 0, max_depth);
}
