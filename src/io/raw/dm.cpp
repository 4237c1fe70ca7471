// Gatan DigitalMicrograph .dm3/.dm4, read from the published description of the
// format (Boothroyd; Jefferis): a header (version, root length, byte order of the
// data), then a tree of tag groups (label + sorted/open flags + tag count) and data
// tags ("%%%%", an encoded-type array, the data). DM3 writes counts and sizes as
// 4-byte big-endian numbers; DM4 as 8-byte ones and adds each tag's size after its
// label. Every size, count and offset is checked against the buffer before use.
#include "common.h"

namespace emgan::io {

namespace {

constexpr int kMaxDepth = 64;
constexpr uint64_t kMaxInfo = 4096;  // entries of one encoded-type array

enum TagType : uint64_t {
  kShort = 2, kLong = 3, kUShort = 4, kULong = 5, kFloat = 6, kDouble = 7, kBool = 8,
  kChar = 9, kOctet = 10, kInt64 = 11, kUInt64 = 12, kStruct = 15, kString = 18, kArray = 20,
};

uint64_t simple_size(uint64_t type) {
  switch (type) {
    case kBool: case kChar: case kOctet: return 1;
    case kShort: case kUShort: return 2;
    case kLong: case kULong: case kFloat: return 4;
    case kDouble: case kInt64: case kUInt64: return 8;
    default: return 0;
  }
}

struct DmNode {
  std::string label;
  bool group = false;
  std::vector<DmNode> children;
  std::vector<uint64_t> info;  // encoded type of a data tag
  size_t data_offset = 0;
  uint64_t data_bytes = 0;

  const DmNode* child(const std::string& name) const {
    for (const auto& c : children)
      if (c.label == name) return &c;
    return nullptr;
  }
};

class DmParser {
 public:
  DmParser(const uint8_t* data, size_t size, const std::string& name) : in_(data, size, name) {}

  /// Parses the header and the whole tag tree.
  DmNode parse() {
    const uint32_t version = in_.read<uint32_t>(false, "DM version");
    EMGAN_CHECK(IoError, version == 3 || version == 4, in_.name(), ": DM version ", version,
                " is not supported (expected 3 or 4)");
    wide_ = version == 4;
    version_ = static_cast<int>(version);
    read_size("DM root length");
    const uint32_t order = in_.read<uint32_t>(false, "DM byte order");
    EMGAN_CHECK(IoError, order <= 1, in_.name(), ": DM byte order flag ", order, " is not 0 or 1");
    little_ = order == 1;
    DmNode root;
    root.group = true;
    parse_group(root, 0);
    return root;
  }

  int version() const { return version_; }
  bool little() const { return little_; }
  const uint8_t* data() const { return in_.data(); }
  const std::string& name() const { return in_.name(); }

 private:
  uint64_t read_size(const char* what) {
    return wide_ ? in_.read<uint64_t>(false, what) : in_.read<uint32_t>(false, what);
  }

  void parse_group(DmNode& group, int depth) {
    EMGAN_CHECK(IoError, depth < kMaxDepth, in_.name(), ": DM tag groups nested deeper than ", kMaxDepth,
                " at offset ", in_.pos());
    in_.take(2, "DM tag group flags");
    const uint64_t count = read_size("DM tag count");
    // Each tag takes at least 3 bytes: a count beyond that is corrupt.
    EMGAN_CHECK(IoError, count <= in_.remaining() / 3, in_.name(), ": DM tag group at offset ", in_.pos(),
                " claims ", count, " tags, more than the file can hold");
    for (uint64_t i = 0; i < count; ++i) {
      group.children.emplace_back();
      parse_tag(group.children.back(), depth);
    }
  }

  void parse_tag(DmNode& node, int depth) {
    const size_t at = in_.pos();
    const uint8_t kind = *in_.take(1, "DM tag kind");
    EMGAN_CHECK(IoError, kind == 20 || kind == 21, in_.name(), ": DM tag at offset ", at, " has kind ", int(kind),
                " (expected 20 group or 21 data)");
    const uint16_t label_len = in_.read<uint16_t>(false, "DM tag label length");
    const uint8_t* label = in_.take(label_len, "DM tag label");
    node.label.assign(reinterpret_cast<const char*>(label), label_len);
    if (wide_) {
      const uint64_t tag_size = in_.read<uint64_t>(false, "DM4 tag size");
      in_.need(tag_size, "DM4 tag content");
    }
    if (kind == 20) {
      node.group = true;
      parse_group(node, depth + 1);
      return;
    }
    const uint8_t* magic = in_.take(4, "DM data tag marker");
    EMGAN_CHECK(IoError, std::memcmp(magic, "%%%%", 4) == 0, in_.name(), ": DM data tag '", node.label,
                "' at offset ", at, " lacks its %%%% marker");
    const uint64_t ninfo = read_size("DM encoded type length");
    EMGAN_CHECK(IoError, ninfo >= 1 && ninfo <= kMaxInfo, in_.name(), ": DM data tag '", node.label,
                "' has an encoded type of ", ninfo, " entries");
    in_.need(ninfo * (wide_ ? 8 : 4), "DM encoded type");
    node.info.reserve(static_cast<size_t>(ninfo));
    for (uint64_t i = 0; i < ninfo; ++i) node.info.push_back(read_size("DM encoded type"));
    node.data_bytes = data_size(node);
    node.data_offset = in_.pos();
    in_.take(node.data_bytes, "DM tag data");
  }

  /// Bytes of the data of a tag with encoded type `node.info`.
  uint64_t data_size(const DmNode& node) const {
    const auto& info = node.info;
    const size_t n = info.size();
    auto bad = [&](const char* why) {
      return IoError(detail::concat(in_.name(), ": DM data tag '", node.label, "' at offset ", in_.pos(), ": ", why));
    };
    auto times = [&](uint64_t count, uint64_t item) {
      if (item != 0 && count > in_.remaining() / item) throw bad("data larger than the rest of the file");
      return count * item;
    };
    auto struct_size = [&](size_t first_field, uint64_t fields) {
      uint64_t total = 0;
      for (uint64_t f = 0; f < fields; ++f) {
        const uint64_t s = simple_size(info[first_field + 2 * f + 1]);
        if (s == 0) throw bad("struct field of unsupported type");
        total += s;
      }
      return total;
    };
    const uint64_t type = info[0];
    if (simple_size(type) != 0) {
      if (n != 1) throw bad("simple type with extra encoded-type entries");
      return simple_size(type);
    }
    if (type == kString) {
      if (n != 2) throw bad("string type needs 2 encoded-type entries");
      return times(info[1], 2);
    }
    if (type == kStruct) {
      if (n < 3 || info[2] > (n - 3) / 2 || n != 3 + 2 * info[2]) throw bad("malformed struct definition");
      return struct_size(3, info[2]);
    }
    if (type == kArray) {
      if (n < 3) throw bad("malformed array definition");
      const uint64_t elem = info[1];
      if (simple_size(elem) != 0) {
        if (n != 3) throw bad("malformed array definition");
        return times(info[2], simple_size(elem));
      }
      if (elem == kStruct) {
        if (n < 5 || info[3] > (n - 5) / 2 || n != 5 + 2 * info[3]) throw bad("malformed array-of-struct definition");
        const uint64_t item = struct_size(4, info[3]);
        return times(info[n - 1], item);
      }
      throw bad("arrays of this element type are not supported");
    }
    throw bad(detail::concat("unknown tag data type ", type).c_str());
  }

  detail::ByteReader in_;
  bool wide_ = false;
  bool little_ = true;
  int version_ = 3;
};

/// The value of a simple-type data tag; false when `node` is not one.
bool scalar(const DmParser& p, const DmNode* node, double& value) {
  if (!node || node->group || node->info.size() != 1) return false;
  const uint8_t* d = p.data() + node->data_offset;
  const bool le = p.little();
  switch (node->info[0]) {
    case kShort: value = detail::load<int16_t>(d, le); return true;
    case kLong: value = detail::load<int32_t>(d, le); return true;
    case kUShort: value = detail::load<uint16_t>(d, le); return true;
    case kULong: value = detail::load<uint32_t>(d, le); return true;
    case kFloat: value = detail::load<float>(d, le); return true;
    case kDouble: value = detail::load<double>(d, le); return true;
    case kBool: case kOctet: value = d[0]; return true;
    case kChar: value = static_cast<int8_t>(d[0]); return true;
    case kInt64: value = static_cast<double>(detail::load<int64_t>(d, le)); return true;
    case kUInt64: value = static_cast<double>(detail::load<uint64_t>(d, le)); return true;
    default: return false;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// A text tag (UTF-16 string, array of uint16, or array of bytes) as UTF-8.
std::string text(const DmParser& p, const DmNode* node) {
  if (!node || node->group || node->info.empty()) return "";
  const uint8_t* d = p.data() + node->data_offset;
  std::string out;
  const bool utf16 = node->info[0] == kString || (node->info[0] == kArray && node->info.size() == 3 &&
                                                  (node->info[1] == kUShort || node->info[1] == kShort));
  const bool bytes = node->info[0] == kArray && node->info.size() == 3 &&
                     (node->info[1] == kOctet || node->info[1] == kChar);
  if (utf16) {
    for (uint64_t i = 0; i + 1 < node->data_bytes && out.size() < 256; i += 2) {
      const uint16_t c = detail::load<uint16_t>(d + i, p.little());
      if (c == 0) break;
      append_utf8(out, (c >= 0xD800 && c <= 0xDFFF) ? 0xFFFD : c);
    }
  } else if (bytes) {
    for (uint64_t i = 0; i < node->data_bytes && out.size() < 256 && d[i]; ++i) append_utf8(out, d[i]);
  }
  return out;
}

struct DmImageType {
  const char* dtype;
  size_t bytes;
};

DmImageType image_type(int code, const std::string& name) {
  switch (code) {
    case 1: return {"int16", 2};
    case 2: return {"float32", 4};
    case 6: return {"uint8", 1};
    case 7: return {"int32", 4};
    case 9: return {"int8", 1};
    case 10: return {"uint16", 2};
    case 11: return {"uint32", 4};
    case 12: return {"float64", 8};
    case 14: return {"uint8", 1};  // binary
    case 3: case 13:
      throw IoError(detail::concat(name, ": DM complex image data (type ", code, ") is not supported"));
    case 8: case 23:
      throw IoError(detail::concat(name, ": DM RGB image data (type ", code, ") is not supported"));
    default:
      throw IoError(detail::concat(name, ": unknown DM image data type ", code));
  }
}

struct Candidate {
  const DmNode* data = nullptr;
  const DmNode* image = nullptr;
  std::vector<int64_t> dims;
  int64_t pixels = 0;
};

}  // namespace

RawImage decode_dm(const uint8_t* data, size_t size, const std::string& name,
                   const DecodeOptions& options) {
  DmParser parser(data, size, name);
  const DmNode root = parser.parse();
  const DmNode* list = root.child("ImageList");
  EMGAN_CHECK(IoError, list && list->group, name, ": DM file has no ImageList tag group (not an image?)");

  Candidate best;
  for (const DmNode& img : list->children) {
    const DmNode* image_data = img.child("ImageData");
    if (!image_data || !image_data->group) continue;
    const DmNode* d = image_data->child("Data");
    const DmNode* dims_group = image_data->child("Dimensions");
    if (!d || d->group || !dims_group || !dims_group->group) continue;
    Candidate c;
    c.data = d;
    c.image = image_data;
    c.pixels = 1;
    bool ok = !dims_group->children.empty() && dims_group->children.size() <= 4;
    for (const DmNode& dn : dims_group->children) {
      double v = 0;
      if (!ok || !scalar(parser, &dn, v) || !(v >= 1 && v <= 2147483647.0) || v != std::floor(v)) {
        ok = false;
        break;
      }
      c.dims.push_back(static_cast<int64_t>(v));
      c.pixels = detail::checked_product({c.pixels, c.dims.back()}, std::numeric_limits<int64_t>::max() / 16);
      if (c.pixels < 0) ok = false;
    }
    EMGAN_CHECK(IoError, ok, name, ": DM image has invalid Dimensions");
    if (c.pixels >= best.pixels) best = c;  // the last of the largest: not the thumbnail
  }
  EMGAN_CHECK(IoError, best.data != nullptr, name, ": DM ImageList holds no image with Data and Dimensions");
  EMGAN_CHECK(IoError, best.dims.size() == 2 || best.dims.size() == 3, name, ": DM image has ", best.dims.size(),
              " dimensions; expected 2 (image) or 3 (volume/stack)");

  double type_code = 0;
  EMGAN_CHECK(IoError, scalar(parser, best.image->child("DataType"), type_code), name,
              ": DM image lacks its DataType tag");
  const DmImageType type = image_type(static_cast<int>(type_code), name);

  RawImage image;
  image.width = best.dims[0];
  image.height = best.dims[1];
  image.depth = best.dims.size() == 3 ? best.dims[2] : 1;
  image.is_volume = best.dims.size() == 3;
  const int64_t n = detail::check_shape(name, 1, image.depth, image.height, image.width, options);
  const uint64_t expected = static_cast<uint64_t>(n) * type.bytes;
  EMGAN_CHECK(IoError, best.data->data_bytes == expected, name, ": DM image Data holds ", best.data->data_bytes,
              " bytes but ", image.width, " x ", image.height, " x ", image.depth, " of ", type.dtype, " needs ",
              expected);
  image.data.resize(static_cast<size_t>(n));
  detail::convert_named(type.dtype, data + best.data->data_offset, static_cast<size_t>(n), parser.little(),
                        image.data.data());
  image.meta.format = parser.version() == 4 ? "dm4" : "dm3";
  image.meta.dtype = type.dtype;
  image.meta.extra["dm_data_type"] = static_cast<int>(type_code);

  // Calibrations/Dimension holds one group per dimension: Origin, Scale, Units.
  const DmNode* cal = best.image->child("Calibrations");
  const DmNode* cal_dims = cal && cal->group ? cal->child("Dimension") : nullptr;
  if (cal_dims && cal_dims->group) {
    double* sizes[] = {&image.meta.pixel_size_x, &image.meta.pixel_size_y, &image.meta.pixel_size_z};
    for (size_t i = 0; i < cal_dims->children.size() && i < best.dims.size(); ++i) {
      const DmNode& dim = cal_dims->children[i];
      double scale = 0;
      if (dim.group && scalar(parser, dim.child("Scale"), scale) && std::isfinite(scale) && scale > 0)
        *sizes[i] = scale;
      if (i == 0 && dim.group) image.meta.unit = text(parser, dim.child("Units"));
    }
  }
  return image;
}

}  // namespace emgan::io
