// The CIFAR-style batched releases of MiraBest and FRDEEP-F, and radgal's own compact image-set
// file.
//
// A batch folder holds batches.meta (label_names), data_batch_1 .. data_batch_N (training) and
// test_batch (the canonical test set). Each batch is a pickle of a dict with `labels` (ints),
// `data` (numpy uint8 images of 150 x 150, or flat 22500) and `filenames`; see data/pickle.h for
// how they are read without running anything.
//
// Contracts
// - Every image is checked to be 150 x 150 uint8; labels must lie in 0..9 in a batch file and
//   below label_names.size() once the folder's batches.meta is known. Violations throw
//   std::runtime_error naming the file and the image index.
// - Images keep the order of the files (training batches in numeric order, then test_batch for
//   split "all") and of the images inside each file.
// - The official release files are recognised by MD5. read_batch_dir writes one warning line to
//   stderr for each file whose name is a release file's but whose content differs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace radgal {

struct ImageSet {
  int64_t height = 150, width = 150;
  std::vector<uint8_t> pixels;                      // size() * height * width, row-major per image
  std::vector<int> labels;                          // index into label_names
  std::vector<std::string> filenames, label_names;  // label_names from batches.meta

  size_t size() const { return labels.size(); }
  const uint8_t* image(size_t i) const { return pixels.data() + i * height * width; }
  // Appends other's images; both sets must have the same image size and label_names (an empty
  // label_names on either side takes the other's).
  void append(const ImageSet& other);
};

// One pickled batch. label_names stays empty (it lives in batches.meta).
ImageSet read_batch_file(const std::string& path);

struct BatchMeta {
  std::vector<std::string> label_names;
  int64_t num_cases_per_batch = 0, num_vis = 0;
};
BatchMeta read_batch_meta(const std::string& path);

// split: "train" = data_batch_* in numeric order, "test" = test_batch, "all" = both. For "train"
// and "all" the numbering must run 1..N without gaps, and a folder whose batches.meta is an
// official release file must hold every training batch of that release; otherwise it throws
// naming the folder and the missing files (batch_files and check_release_dir too).
// dir may also be a compact image-set file (below): "all" gives every image, "train" and "test"
// the images its metadata assigns to that split (radgal prepare --compare records the release's
// split of every image it matched).
ImageSet read_batch_dir(const std::string& dir, const std::string& split);

// The batch files read_batch_dir reads for a split, in its order (throws as it does when the
// folder has none).
std::vector<std::string> batch_files(const std::string& dir, const std::string& split);

// "MiraBest" when label_names are the ten MiraBest codes, "FRDEEP-F" for FRI/FRII, else "".
std::string identify_dataset(const std::vector<std::string>& label_names);

// Recognition of the official release files.
struct ReleaseCheck {
  std::string path, name;  // name = file name without folders
  std::string dataset;     // dataset whose release has a file of this name, or ""
  std::string md5, expected_md5;
  bool official() const { return !expected_md5.empty() && md5 == expected_md5; }
  bool differs() const { return !expected_md5.empty() && md5 != expected_md5; }
};
// dataset is "MiraBest" or "FRDEEP-F" (as identify_dataset gives); for "" the file is matched
// against every known release by content.
ReleaseCheck check_release_file(const std::string& path, const std::string& dataset);
// batches.meta and every batch file of the folder, in read order.
std::vector<ReleaseCheck> check_release_dir(const std::string& dir);

// The compact image-set file ("radgal image set", extension .rgis): everything an ImageSet holds,
// read back in one pass, for sets made by `radgal prepare`. Layout, all integers little-endian:
//   8 bytes   magic "RGIMSET1"
//   u64       image count N;  u32 height H;  u32 width W
//   u32       label-name count L, then L strings
//   u32       length of a free-form JSON metadata string, then its bytes
//   N x i32   labels (indices into the label names)
//   N strings filenames
//   N*H*W     uint8 pixels
//   u32       CRC-32 (zlib) of every byte before it
// A string is a u32 byte length followed by UTF-8 bytes. The file is written to a temporary name
// in the same folder, flushed to disk, then renamed over path, so a reader never sees half a file.
void write_image_set(const std::string& path, const ImageSet& set,
                     const std::string& metadata_json = "{}");
ImageSet read_image_set(const std::string& path, std::string* metadata_json = nullptr);

// The images of an image-set file in one split: "all", or "train" / "test" from a metadata
// "splits" array holding one split name per image. Throws when the file records no split.
ImageSet read_image_set_split(const std::string& path, const std::string& split);

}  // namespace radgal
