#pragma once
// Writes Gatan DigitalMicrograph .dm3/.dm4 files byte by byte from the published
// description of the format (Boothroyd, "Digital Micrograph file format"; Jefferis,
// "DM3 file format"), independently of emgan's reader, for tests and fuzz seeds.
//   header   DM3: version i4be = 3, root length i4be, byte order i4be (1 = little)
//            DM4: version i4be = 4, root length i8be, byte order i4be
//   group    sorted i1, open i1, tag count (i4be DM3 / i8be DM4), tags
//   tag      kind i1 (20 group, 21 data), label length i2be, label,
//            [DM4 only: size of what follows, i8be], then a group or:
//   data     "%%%%", n (i4be / i8be), n encoded-type numbers (i4be / i8be), data
//            (in the byte order of the header).
// Torch-free; header-only.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace emgan::test {

struct DmTag {
  std::string label;
  bool group = false;
  std::vector<DmTag> children;
  std::vector<uint64_t> info;  // encoded type
  std::vector<uint8_t> data;   // already in the file's data byte order (little endian here)
};

namespace dm {

template <typename T>
std::vector<uint8_t> le_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());  // test hosts are little endian
  return out;
}

inline DmTag group(const std::string& label, std::vector<DmTag> children) {
  DmTag t;
  t.label = label;
  t.group = true;
  t.children = std::move(children);
  return t;
}

inline DmTag data(const std::string& label, std::vector<uint64_t> info, std::vector<uint8_t> bytes) {
  DmTag t;
  t.label = label;
  t.info = std::move(info);
  t.data = std::move(bytes);
  return t;
}

inline DmTag long_value(const std::string& label, int32_t v) { return data(label, {3}, le_bytes<int32_t>({v})); }
inline DmTag ulong_value(const std::string& label, uint32_t v) { return data(label, {5}, le_bytes<uint32_t>({v})); }
inline DmTag float_value(const std::string& label, float v) { return data(label, {6}, le_bytes<float>({v})); }
inline DmTag double_value(const std::string& label, double v) { return data(label, {7}, le_bytes<double>({v})); }
inline DmTag bool_value(const std::string& label, bool v) { return data(label, {8}, {uint8_t(v ? 1 : 0)}); }

/// A text as DM stores units: an array of uint16 (type 4) UTF-16 code units.
inline DmTag units(const std::string& label, const std::u16string& text) {
  std::vector<uint16_t> units(text.begin(), text.end());
  return data(label, {20, 4, units.size()}, le_bytes(units));
}

/// A struct of float fields (type 15), as DM stores e.g. colours and rectangles.
inline DmTag float_struct(const std::string& label, const std::vector<float>& fields) {
  std::vector<uint64_t> info = {15, 0, fields.size()};
  for (size_t i = 0; i < fields.size(); ++i) {
    info.push_back(0);
    info.push_back(6);
  }
  return data(label, info, le_bytes(fields));
}

/// An array of `count` elements of simple type `type` (20, type, count).
inline DmTag array(const std::string& label, uint64_t type, uint64_t count, std::vector<uint8_t> bytes) {
  return data(label, {20, type, count}, std::move(bytes));
}

inline void put_be(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline void write_group_body(std::vector<uint8_t>& out, const DmTag& g, int version);

inline void write_tag(std::vector<uint8_t>& out, const DmTag& t, int version) {
  const int wide = version == 4 ? 8 : 4;
  out.push_back(t.group ? 20 : 21);
  put_be(out, t.label.size(), 2);
  out.insert(out.end(), t.label.begin(), t.label.end());
  std::vector<uint8_t> body;
  if (t.group) {
    write_group_body(body, t, version);
  } else {
    body.insert(body.end(), {'%', '%', '%', '%'});
    put_be(body, t.info.size(), wide);
    for (uint64_t v : t.info) put_be(body, v, wide);
    body.insert(body.end(), t.data.begin(), t.data.end());
  }
  if (version == 4) put_be(out, body.size(), 8);
  out.insert(out.end(), body.begin(), body.end());
}

inline void write_group_body(std::vector<uint8_t>& out, const DmTag& g, int version) {
  out.push_back(1);  // sorted
  out.push_back(0);  // open
  put_be(out, g.children.size(), version == 4 ? 8 : 4);
  for (const DmTag& c : g.children) write_tag(out, c, version);
}

/// The whole file: header, root group, 8 zero bytes at the end.
inline std::vector<uint8_t> file(const DmTag& root, int version) {
  std::vector<uint8_t> body;
  write_group_body(body, root, version);
  body.insert(body.end(), 8, 0);
  std::vector<uint8_t> out;
  put_be(out, static_cast<uint64_t>(version), 4);
  put_be(out, body.size(), version == 4 ? 8 : 4);
  put_be(out, 1, 4);  // data little endian
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

/// One ImageList entry: ImageData with Calibrations, Data, DataType, Dimensions.
inline DmTag image_entry(const std::vector<int32_t>& dims, int32_t data_type, uint64_t array_type,
                         std::vector<uint8_t> pixels, uint64_t count, const std::vector<float>& scales,
                         const std::u16string& unit) {
  std::vector<DmTag> cal_dims;
  for (size_t i = 0; i < dims.size(); ++i)
    cal_dims.push_back(group("", {float_value("Origin", 0.f), float_value("Scale", i < scales.size() ? scales[i] : 1.f),
                                  units("Units", unit)}));
  std::vector<DmTag> dim_tags;
  for (int32_t d : dims) dim_tags.push_back(ulong_value("", static_cast<uint32_t>(d)));
  DmTag image_data = group(
      "ImageData", {group("Calibrations", {group("Brightness", {float_value("Origin", 0.f), float_value("Scale", 1.f),
                                                                units("Units", u"counts")}),
                                           group("Dimension", cal_dims), bool_value("DisplayCalibratedUnits", true)}),
                    array("Data", array_type, count, std::move(pixels)), long_value("DataType", data_type),
                    group("Dimensions", dim_tags), long_value("PixelDepth", 4)});
  return group("", {group("ImageDisplayInfo", {float_struct("HighlightColor", {1.f, 0.5f, 0.f})}), image_data,
                    group("ImageTags", {double_value("Exposure", 0.5)}), units("Name", u"test")});
}

/// A complete file: a uint8 4x3 thumbnail first, then `main` (as DM does).
inline std::vector<uint8_t> image_file(const DmTag& main, int version) {
  std::vector<uint8_t> thumb(12, 7);
  DmTag root = group(
      "", {array("ApplicationBounds", 3, 4, le_bytes<int32_t>({0, 0, 800, 600})),
           group("DocumentObjectList", {group("", {float_struct("Rect", {0.f, 0.f, 10.f, 10.f})})}),
           group("ImageList", {image_entry({4, 3}, 6, 10, thumb, 12, {1.f, 1.f}, u""), main}),
           group("ImageSourceList", {}), bool_value("InImageMode", true)});
  return file(root, version);
}

}  // namespace dm
}  // namespace emgan::test
