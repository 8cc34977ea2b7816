#include "data/batches.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "data/md5.h"
#include "data/pickle.h"

namespace radgal {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSide = 150;
constexpr int64_t kImageBytes = kSide * kSide;
// A MiraBest batch is 3.6 MB; anything beyond this is not a batch of 150 x 150 images.
constexpr uint64_t kMaxBatchFileBytes = uint64_t(1) << 28;

struct ReleaseFile {
  const char* dataset;
  const char* name;
  const char* md5;
};

// MiraBest: the MiraBest_full_batches release; FRDEEP-F: the FIRST_PNG_dataset release.
constexpr ReleaseFile kReleaseFiles[] = {
    {"MiraBest", "batches.meta", "e1b5450577209e583bc43fbf8e851965"},
    {"MiraBest", "data_batch_1", "b15ae155301f316fc0b51af16b3c540d"},
    {"MiraBest", "data_batch_2", "0bf52cc1b47da591ed64127bab6df49e"},
    {"MiraBest", "data_batch_3", "98908045de6695c7b586d0bd90d78893"},
    {"MiraBest", "data_batch_4", "ec9b9b77dc019710faf1ad23f1a58a60"},
    {"MiraBest", "data_batch_5", "5190632a50830e5ec30de2973cc6b2e1"},
    {"MiraBest", "data_batch_6", "b7113d89ddd33dd179bf64cb578be78e"},
    {"MiraBest", "data_batch_7", "626c866b7610bfd08ac94ca3a17d02a1"},
    {"MiraBest", "test_batch", "5e443302dbdf3c2003d68ff9ac95f08c"},
    {"FRDEEP-F", "batches.meta", "655493bdee948954f3939727b3f9e735"},
    {"FRDEEP-F", "data_batch_1", "f34da44757c7fa3f6e6cd3d0839a4634"},
    {"FRDEEP-F", "data_batch_2", "f56cda0d9a99305fee2bad7de0560f95"},
    {"FRDEEP-F", "data_batch_3", "93265dd849331af4e1b092f74b06450b"},
    {"FRDEEP-F", "data_batch_4", "0de8f4c18b775251f4e553e2990cd446"},
    {"FRDEEP-F", "data_batch_5", "c6aa87400a1be6007da7cfcefd2c3e5c"},
    {"FRDEEP-F", "data_batch_6", "cebd3fdea93abbc048a3a4d5e58528e0"},
    {"FRDEEP-F", "data_batch_7", "49497445e9380f157e78cf8d74fca1eb"},
    {"FRDEEP-F", "data_batch_8", "88e298eed2d87bbdddad83fef1482723"},
    {"FRDEEP-F", "data_batch_9", "8c40117dbf4d456e63a8a665b245aa63"},
    {"FRDEEP-F", "data_batch_10", "f24d110cc5811ba4651630b9ee9b2989"},
    {"FRDEEP-F", "data_batch_11", "b843dc3b7f48606235029f135d41c85e"},
    {"FRDEEP-F", "test_batch", "4e06889b1e7713deb46e62887eb37727"},
};

std::vector<uint8_t> read_whole_file(const std::string& path, uint64_t max_bytes, const char* who) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw std::runtime_error(std::string(who) + ": " + path + ": is a folder, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string(who) + ": " + path + ": cannot open the file");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw std::runtime_error(std::string(who) + ": " + path + ": cannot read");
  if (uint64_t(size) > max_bytes) {
    throw std::runtime_error(std::string(who) + ": " + path + ": " + std::to_string(size) +
                             " bytes is larger than any file this reader expects");
  }
  in.seekg(0);
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) {
    throw std::runtime_error(std::string(who) + ": " + path + ": cannot read");
  }
  return bytes;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("read_batch_file: " + path + ": " + what);
}

const pickle::Value& field(const pickle::Value& dict, const char* key, pickle::Kind kind,
                           const std::string& path) {
  const pickle::Value* v = dict.find(key);
  if (!v) fail(path, std::string("no '") + key + "' entry");
  const bool kind_ok =
      v->kind == kind || (kind == pickle::Kind::list && v->kind == pickle::Kind::tuple);
  if (!kind_ok) {
    fail(path, std::string("'") + key + "' is a " + pickle::kind_name(v->kind) + ", expected a " +
                   pickle::kind_name(kind));
  }
  return *v;
}

// Appends the images of `data` (a list of per-image arrays, or one (N, ...) array) to pixels.
int64_t collect_images(const pickle::Value& data, const std::string& path,
                       std::vector<uint8_t>& pixels) {
  auto check_dtype = [&](const pickle::Value& a, const std::string& where) {
    if (a.array_dtype != "u1") {
      fail(path, where + " has numpy type " + a.array_dtype + ", expected uint8");
    }
  };
  auto shape_text = [](const std::vector<int64_t>& shape) {
    std::string s = "(";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + ")";
  };
  if (data.kind == pickle::Kind::array) {
    check_dtype(data, "data");
    const auto& s = data.shape;
    const bool flat = s.size() == 2 && s[1] == kImageBytes;
    const bool square = s.size() == 3 && s[1] == kSide && s[2] == kSide;
    if (!flat && !square) {
      fail(path,
           "data array has shape " + shape_text(s) + ", expected (N, 150, 150) or (N, 22500)");
    }
    pixels.insert(pixels.end(), data.data.begin(), data.data.end());
    return s[0];
  }
  if (data.kind != pickle::Kind::list && data.kind != pickle::Kind::tuple) {
    fail(path, std::string("'data' is a ") + pickle::kind_name(data.kind));
  }
  for (size_t i = 0; i < data.items.size(); ++i) {
    const pickle::Value& a = *data.items[i];
    const std::string where = "image " + std::to_string(i);
    if (a.kind != pickle::Kind::array) {
      fail(path, where + " is a " + pickle::kind_name(a.kind) + ", not a numpy array");
    }
    check_dtype(a, where);
    std::vector<int64_t> s;
    for (int64_t d : a.shape) {
      if (d != 1) s.push_back(d);  // (1, 150, 150) and (150, 150, 1) are the same image
    }
    const bool ok =
        (s.size() == 2 && s[0] == kSide && s[1] == kSide) || (s.size() == 1 && s[0] == kImageBytes);
    if (!ok) fail(path, where + " has shape " + shape_text(a.shape) + ", expected (150, 150)");
    pixels.insert(pixels.end(), a.data.begin(), a.data.end());
  }
  return int64_t(data.items.size());
}

std::string text_of(const pickle::Value& v, const std::string& path, const std::string& what) {
  if (!v.is_text()) fail(path, what + " is a " + pickle::kind_name(v.kind) + ", not a string");
  return v.text;
}

std::string base_name(const std::string& path) {
  return fs::path(path).filename().string();
}

// data_batch_<n> files of a folder, in numeric order.
std::vector<std::string> training_batches(const std::string& dir) {
  std::vector<std::pair<long, std::string>> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    const std::string prefix = "data_batch_";
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() == prefix.size()) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 6 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    found.emplace_back(std::stol(digits), entry.path().string());
  }
  if (ec) throw std::runtime_error("read_batch_dir: " + dir + ": " + ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(f.second);
  return paths;
}

// Throws when data_batch_1 .. data_batch_N has gaps (a lost file would otherwise shrink the
// training set without a word), or when batches.meta is an official release file and the folder
// lacks any of that release's training batches.
void require_complete_training_set(const std::string& dir, const std::vector<std::string>& files) {
  const std::string prefix = "data_batch_";
  std::vector<long> numbers;
  for (const std::string& f : files)
    numbers.push_back(std::stol(base_name(f).substr(prefix.size())));
  long expected = numbers.empty() ? 0 : numbers.back();
  std::string release;
  const std::string meta_path = (fs::path(dir) / "batches.meta").string();
  std::error_code ec;
  if (fs::is_regular_file(meta_path, ec)) {
    const std::string meta_md5 = md5_hex_of_file(meta_path);
    for (const ReleaseFile& r : kReleaseFiles) {
      if (std::string(r.name) == "batches.meta" && meta_md5 == r.md5) release = r.dataset;
    }
    long official = 0;
    for (const ReleaseFile& r : kReleaseFiles) {
      if (!release.empty() && release == r.dataset && std::string(r.name).rfind(prefix, 0) == 0) {
        ++official;
      }
    }
    expected = std::max(expected, official);
  }
  std::string missing;
  for (long n = 1; n <= expected; ++n) {
    if (std::binary_search(numbers.begin(), numbers.end(), n)) continue;
    missing += (missing.empty() ? "" : ", ") + prefix + std::to_string(n);
  }
  if (missing.empty()) return;
  const std::string why =
      release.empty()
          ? "the training batches must be numbered 1.." + std::to_string(expected) + " without gaps"
          : "its batches.meta is the official " + release + " release file, whose " +
                "training set is data_batch_1..data_batch_" + std::to_string(expected);
  throw std::runtime_error("read_batch_dir: " + dir + ": missing " + missing + " (" + why + ")");
}

// Little-endian serialisation helpers for the compact file.
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += char((v >> (8 * i)) & 0xff);
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out += char((v >> (8 * i)) & 0xff);
}
void put_string(std::string& out, const std::string& s) {
  put_u32(out, uint32_t(s.size()));
  out += s;
}

class ByteReader {
 public:
  ByteReader(const std::vector<uint8_t>& bytes, size_t end, const std::string& path)
      : b_(bytes), end_(end), path_(path) {}
  const uint8_t* take(uint64_t n) {
    if (n > end_ - pos_) {
      throw std::runtime_error("read_image_set: " + path_ + ": truncated at byte " +
                               std::to_string(pos_));
    }
    const uint8_t* p = b_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t u(int n) {
    const uint8_t* p = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string str() {
    const uint64_t n = u(4);
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  size_t position() const { return pos_; }

 private:
  const std::vector<uint8_t>& b_;
  size_t end_, pos_ = 0;
  std::string path_;
};

}  // namespace

void ImageSet::append(const ImageSet& other) {
  if (other.height != height || other.width != width) {
    throw std::runtime_error("ImageSet::append: image sizes differ");
  }
  if (label_names.empty()) {
    label_names = other.label_names;
  } else if (!other.label_names.empty() && other.label_names != label_names) {
    throw std::runtime_error("ImageSet::append: label names differ");
  }
  pixels.insert(pixels.end(), other.pixels.begin(), other.pixels.end());
  labels.insert(labels.end(), other.labels.begin(), other.labels.end());
  filenames.insert(filenames.end(), other.filenames.begin(), other.filenames.end());
}

ImageSet read_batch_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_whole_file(path, kMaxBatchFileBytes, "read_batch_file");
  const pickle::Document doc = pickle::parse(bytes.data(), bytes.size(), path);
  const pickle::Value& root = *doc.root();
  if (root.kind != pickle::Kind::dict) {
    fail(path, std::string("the pickle holds a ") + pickle::kind_name(root.kind) +
                   ", not the dict of a batch");
  }

  ImageSet set;
  const pickle::Value* data = root.find("data");
  if (!data) fail(path, "no 'data' entry");
  const int64_t n = collect_images(*data, path, set.pixels);

  const pickle::Value& labels = field(root, "labels", pickle::Kind::list, path);
  if (int64_t(labels.items.size()) != n) {
    fail(path,
         std::to_string(labels.items.size()) + " labels for " + std::to_string(n) + " images");
  }
  for (size_t i = 0; i < labels.items.size(); ++i) {
    const pickle::Value& l = *labels.items[i];
    if (l.kind != pickle::Kind::integer || l.integer < 0 || l.integer > 9) {
      fail(path, "label " + std::to_string(i) + " is not an integer in 0..9");
    }
    set.labels.push_back(int(l.integer));
  }

  if (const pickle::Value* names = root.find("filenames")) {
    if (names->kind != pickle::Kind::list && names->kind != pickle::Kind::tuple) {
      fail(path, std::string("'filenames' is a ") + pickle::kind_name(names->kind));
    }
    if (int64_t(names->items.size()) != n) {
      fail(path, std::to_string(names->items.size()) + " file names for " + std::to_string(n) +
                     " images");
    }
    for (size_t i = 0; i < names->items.size(); ++i) {
      set.filenames.push_back(text_of(*names->items[i], path, "file name " + std::to_string(i)));
    }
  } else {
    set.filenames.assign(size_t(n), "");
  }
  return set;
}

BatchMeta read_batch_meta(const std::string& path) {
  const std::vector<uint8_t> bytes = read_whole_file(path, 1 << 20, "read_batch_meta");
  const pickle::Document doc = pickle::parse(bytes.data(), bytes.size(), path);
  const pickle::Value& root = *doc.root();
  auto bad = [&](const std::string& what) {
    throw std::runtime_error("read_batch_meta: " + path + ": " + what);
  };
  if (root.kind != pickle::Kind::dict) bad("the pickle does not hold a dict");
  const pickle::Value* names = root.find("label_names");
  if (!names || (names->kind != pickle::Kind::list && names->kind != pickle::Kind::tuple)) {
    bad("no 'label_names' list");
  }
  BatchMeta meta;
  for (const pickle::Value* v : names->items) {
    if (!v->is_text()) bad("a label name is not a string");
    meta.label_names.push_back(v->text);
  }
  if (meta.label_names.empty() || meta.label_names.size() > 10) {
    bad(std::to_string(meta.label_names.size()) + " label names (expected 1 to 10)");
  }
  if (const pickle::Value* v = root.find("num_cases_per_batch"))
    meta.num_cases_per_batch = v->integer;
  if (const pickle::Value* v = root.find("num_vis")) meta.num_vis = v->integer;
  if (meta.num_vis != 0 && meta.num_vis != kImageBytes) {
    bad("num_vis is " + std::to_string(meta.num_vis) + ", expected 22500 (150 x 150)");
  }
  return meta;
}

std::string identify_dataset(const std::vector<std::string>& label_names) {
  static const std::vector<std::string> mirabest = {"100", "102", "104", "110", "112",
                                                    "200", "201", "210", "300", "310"};
  if (label_names == mirabest) return "MiraBest";
  if (label_names == std::vector<std::string>{"FRI", "FRII"}) return "FRDEEP-F";
  return "";
}

ReleaseCheck check_release_file(const std::string& path, const std::string& dataset) {
  ReleaseCheck check;
  check.path = path;
  check.name = base_name(path);
  check.md5 = md5_hex_of_file(path);
  for (const ReleaseFile& f : kReleaseFiles) {
    const bool by_name = !dataset.empty() && dataset == f.dataset && check.name == f.name;
    const bool by_content = dataset.empty() && check.md5 == f.md5;
    if (by_name || by_content) {
      check.dataset = f.dataset;
      check.expected_md5 = f.md5;
      break;
    }
  }
  return check;
}

std::vector<std::string> batch_files(const std::string& dir, const std::string& split) {
  std::vector<std::string> files;
  if (split == "train" || split == "all") {
    files = training_batches(dir);
    if (files.empty()) {
      throw std::runtime_error("read_batch_dir: " + dir + ": no data_batch_* files");
    }
    require_complete_training_set(dir, files);
  }
  if (split == "test" || split == "all") files.push_back((fs::path(dir) / "test_batch").string());
  if (files.empty()) {
    throw std::runtime_error("read_batch_dir: unknown split '" + split +
                             "' (expected train, test or all)");
  }
  return files;
}

std::vector<ReleaseCheck> check_release_dir(const std::string& dir) {
  const std::string meta_path = (fs::path(dir) / "batches.meta").string();
  const std::string dataset = identify_dataset(read_batch_meta(meta_path).label_names);
  std::vector<ReleaseCheck> checks{check_release_file(meta_path, dataset)};
  for (const std::string& f : batch_files(dir, "all")) {
    checks.push_back(check_release_file(f, dataset));
  }
  return checks;
}

ImageSet read_batch_dir(const std::string& dir, const std::string& split) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) return read_image_set_split(dir, split);
  if (!fs::is_directory(dir, ec)) {
    throw std::runtime_error("read_batch_dir: " + dir + ": not a folder");
  }
  const std::string meta_path = (fs::path(dir) / "batches.meta").string();
  if (!fs::exists(meta_path, ec)) {
    throw std::runtime_error("read_batch_dir: " + dir +
                             ": no batches.meta (is this a batched-release folder?)");
  }
  const BatchMeta meta = read_batch_meta(meta_path);
  const std::string dataset = identify_dataset(meta.label_names);

  ImageSet set;
  set.label_names = meta.label_names;
  std::vector<std::string> files = batch_files(dir, split);
  std::vector<std::string> checked = files;
  checked.insert(checked.begin(), meta_path);
  for (const std::string& f : checked) {
    const ReleaseCheck check = check_release_file(f, dataset);
    if (check.differs()) {
      std::fprintf(stderr,
                   "warning: %s differs from the official %s release file %s (md5 %s, "
                   "expected %s)\n",
                   f.c_str(), check.dataset.c_str(), check.name.c_str(), check.md5.c_str(),
                   check.expected_md5.c_str());
    }
  }
  for (const std::string& f : files) {
    ImageSet part = read_batch_file(f);
    for (size_t i = 0; i < part.labels.size(); ++i) {
      if (part.labels[i] >= int(meta.label_names.size())) {
        throw std::runtime_error("read_batch_dir: " + f + ": image " + std::to_string(i) +
                                 " has label " + std::to_string(part.labels[i]) + " but " +
                                 meta_path + " names only " +
                                 std::to_string(meta.label_names.size()) + " labels");
      }
    }
    part.label_names = meta.label_names;
    set.append(part);
  }
  return set;
}

void write_image_set(const std::string& path, const ImageSet& set,
                     const std::string& metadata_json) {
  const uint64_t n = set.size();
  const uint64_t image_bytes = uint64_t(set.height * set.width);
  if (set.pixels.size() != n * image_bytes || set.filenames.size() != n) {
    throw std::runtime_error("write_image_set: " + path + ": inconsistent image set (" +
                             std::to_string(n) + " labels, " +
                             std::to_string(set.filenames.size()) + " names, " +
                             std::to_string(set.pixels.size()) + " pixel bytes)");
  }
  std::string out = "RGIMSET1";
  put_u64(out, n);
  put_u32(out, uint32_t(set.height));
  put_u32(out, uint32_t(set.width));
  put_u32(out, uint32_t(set.label_names.size()));
  for (const std::string& s : set.label_names) put_string(out, s);
  put_string(out, metadata_json);
  for (int label : set.labels) put_u32(out, uint32_t(label));
  for (const std::string& s : set.filenames) put_string(out, s);
  out.append(reinterpret_cast<const char*>(set.pixels.data()), set.pixels.size());
  put_u32(out, uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(out.data()), uInt(out.size()))));

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    throw std::runtime_error("write_image_set: " + path + ": cannot create " + tmp + ": " +
                             std::strerror(errno));
  }
  size_t written = 0;
  while (written < out.size()) {
    const ssize_t w = ::write(fd, out.data() + written, out.size() - written);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error("write_image_set: " + path + ": cannot write: " + reason);
    }
    written += size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("write_image_set: " + path + ": cannot flush: " + reason);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw std::runtime_error("write_image_set: " + path + ": cannot rename: " + reason);
  }
}

ImageSet read_image_set_split(const std::string& path, const std::string& split) {
  std::string metadata;
  ImageSet set = read_image_set(path, &metadata);
  if (split == "all") return set;
  if (split != "train" && split != "test") {
    throw std::runtime_error("read_batch_dir: unknown split '" + split +
                             "' (expected train, test or all)");
  }
  const nlohmann::json meta = nlohmann::json::parse(metadata, nullptr, false);
  const bool has_splits = meta.is_object() && meta.contains("splits") &&
                          meta["splits"].is_array() && meta["splits"].size() == set.size();
  if (!has_splits) {
    throw std::runtime_error("read_batch_dir: " + path +
                             " records no train/test split (make it with radgal prepare "
                             "--compare BATCH_DIR, or use split \"all\")");
  }
  ImageSet out;
  out.height = set.height;
  out.width = set.width;
  out.label_names = set.label_names;
  const size_t image_bytes = size_t(set.height * set.width);
  for (size_t i = 0; i < set.size(); ++i) {
    const nlohmann::json& s = meta["splits"][i];
    if (!s.is_string() || s.get<std::string>() != split) continue;
    out.labels.push_back(set.labels[i]);
    out.filenames.push_back(set.filenames[i]);
    out.pixels.insert(out.pixels.end(), set.image(i), set.image(i) + image_bytes);
  }
  return out;
}

ImageSet read_image_set(const std::string& path, std::string* metadata_json) {
  const std::vector<uint8_t> bytes = read_whole_file(path, uint64_t(1) << 34, "read_image_set");
  auto bad = [&](const std::string& what) {
    throw std::runtime_error("read_image_set: " + path + ": " + what);
  };
  if (bytes.size() < 8 + 4 || std::memcmp(bytes.data(), "RGIMSET1", 8) != 0) {
    bad("not a radgal image-set file (no RGIMSET1 magic)");
  }
  const size_t body = bytes.size() - 4;
  uint32_t stored = 0;
  for (int i = 3; i >= 0; --i) stored = (stored << 8) | bytes[body + i];
  if (uint32_t(crc32(0L, bytes.data(), uInt(body))) != stored) {
    bad("CRC mismatch: the file is damaged or truncated");
  }
  ByteReader r(bytes, body, path);
  r.take(8);
  ImageSet set;
  const uint64_t n = r.u(8);
  set.height = int64_t(r.u(4));
  set.width = int64_t(r.u(4));
  if (set.height < 1 || set.width < 1 || set.height > 65536 || set.width > 65536) {
    bad("bad image size");
  }
  const uint64_t names = r.u(4);
  if (names > 1000) bad("too many label names");
  for (uint64_t i = 0; i < names; ++i) set.label_names.push_back(r.str());
  const std::string metadata = r.str();
  if (metadata_json) *metadata_json = metadata;
  const uint64_t image_bytes = uint64_t(set.height * set.width);
  if (n > body / std::max<uint64_t>(image_bytes, 1)) bad("image count larger than the file");
  for (uint64_t i = 0; i < n; ++i) {
    const int label = int(int32_t(uint32_t(r.u(4))));
    if (label < 0 || uint64_t(label) >= std::max<uint64_t>(names, 1)) {
      bad("image " + std::to_string(i) + " has label index " + std::to_string(label));
    }
    set.labels.push_back(label);
  }
  for (uint64_t i = 0; i < n; ++i) set.filenames.push_back(r.str());
  const uint8_t* pixels = r.take(n * image_bytes);
  set.pixels.assign(pixels, pixels + n * image_bytes);
  if (r.position() != body) bad("unexpected bytes after the pixels");
  return set;
}

}  // namespace radgal
