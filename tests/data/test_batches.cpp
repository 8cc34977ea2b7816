// Batched releases: the real MiraBest and FRDEEP-F files against Python's own pickle reader
// (tests/data/make_data_fixtures.py) and the data README, release recognition, and the compact
// image-set file.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "data/batches.h"
#include "data/labels.h"
#include "data/md5.h"
#include "data_test_util.h"

using radgal::ImageSet;
using radgal::test::TempDir;

namespace {

void check_against_python(const ImageSet& set, const nlohmann::json& ref) {
  REQUIRE(set.size() == ref["count"].get<size_t>());
  for (const auto& image : ref["images"]) {
    const size_t i = image["index"].get<size_t>();
    CAPTURE(i);
    CHECK(set.labels[i] == image["label"].get<int>());
    CHECK(set.filenames[i] == image["filename"].get<std::string>());
    CHECK(radgal::md5_hex(set.image(i), 22500) == image["md5"].get<std::string>());
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("md5: RFC 1321 test vectors") {
  CHECK(radgal::md5_hex("", 0) == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(radgal::md5_hex("abc", 3) == "900150983cd24fb0d6963f7d28e17f72");
  const std::string digits =
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  CHECK(radgal::md5_hex(digits.data(), digits.size()) == "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("batches: MiraBest and FRDEEP-F test batches match Python's reading") {
  const auto& ref = radgal::test::fixtures()["batches"];
  check_against_python(radgal::read_batch_file(radgal::test::kMiraBestBatches + "/test_batch"),
                       ref["mirabest"]);
  check_against_python(radgal::read_batch_file(radgal::test::kFrdeepBatches + "/test_batch"),
                       ref["frdeep"]);
}

TEST_CASE("batches: MiraBest counts per code match the data README") {
  const ImageSet all = radgal::read_batch_dir(radgal::test::kMiraBestBatches, "all");
  REQUIRE(all.size() == 1256);
  std::map<std::string, int> count;
  for (int l : all.labels) ++count[all.label_names[size_t(l)]];
  const std::map<std::string, int> readme = {{"100", 339}, {"102", 49},  {"104", 9}, {"110", 191},
                                             {"112", 3},   {"200", 432}, {"201", 4}, {"210", 195},
                                             {"300", 19},  {"310", 15}};
  CHECK(count == readme);
  // Every file name carries a parseable source name whose code is the image's label.
  for (size_t i = 0; i < all.size(); ++i) {
    const auto s = radgal::parse_source_name(all.filenames[i]);
    REQUIRE(s);
    CHECK(std::to_string(s->code) == all.label_names[size_t(all.labels[i])]);
  }
  const ImageSet test = radgal::read_batch_dir(radgal::test::kMiraBestBatches, "test");
  CHECK(test.size() == 157);
  CHECK(radgal::read_batch_dir(radgal::test::kMiraBestBatches, "train").size() == 1099);
}

TEST_CASE("batches: FRDEEP-F has 600 images, 264 FRI and 336 FRII") {
  const ImageSet all = radgal::read_batch_dir(radgal::test::kFrdeepBatches, "all");
  CHECK(all.size() == 600);
  CHECK(all.label_names == std::vector<std::string>{"FRI", "FRII"});
  int fri = 0;
  for (int l : all.labels) fri += l == 0;
  CHECK(fri == 264);
  CHECK(radgal::read_batch_dir(radgal::test::kFrdeepBatches, "test").size() == 50);
}

TEST_CASE("batches: the release files are recognised, a changed copy is reported") {
  for (const auto& check : radgal::check_release_dir(radgal::test::kFrdeepBatches)) {
    CAPTURE(check.name);
    CHECK(check.official());
    CHECK(check.dataset == "FRDEEP-F");
  }
  TempDir dir;
  for (const char* name : {"batches.meta", "test_batch"}) {
    std::filesystem::copy_file(radgal::test::kFrdeepBatches + "/" + name, dir.file(name));
  }
  for (int i = 1; i <= 11; ++i) {
    const std::string name = "data_batch_" + std::to_string(i);
    std::filesystem::create_symlink(radgal::test::kFrdeepBatches + "/" + name, dir.file(name));
  }
  // Flip one pixel byte deep inside the test batch: still a valid pickle, no longer the release.
  std::vector<uint8_t> bytes = radgal::test::read_bytes(dir.file("test_batch"));
  bytes[bytes.size() / 2] ^= 1;
  radgal::test::write_bytes(dir.file("test_batch"), bytes);
  const auto checks = radgal::check_release_dir(dir.path());
  REQUIRE(checks.size() == 13);
  for (size_t i = 0; i < 12; ++i) CHECK(checks[i].official());
  CHECK(checks[12].differs());
  CHECK(checks[12].expected_md5 == "4e06889b1e7713deb46e62887eb37727");
  CHECK(radgal::read_batch_dir(dir.path(), "all").size() == 600);
  // Recognition by content alone, without knowing the data set.
  CHECK(radgal::check_release_file(dir.file("data_batch_1"), "").dataset == "FRDEEP-F");
}

TEST_CASE("batches: folder errors say what is missing") {
  TempDir dir;
  CHECK(error_of([&] { radgal::read_batch_dir(dir.path(), "all"); }).find("no batches.meta") !=
        std::string::npos);
  CHECK(error_of([&] { radgal::read_batch_dir(dir.file("nope"), "all"); }).find("not a folder") !=
        std::string::npos);
  std::filesystem::copy_file(radgal::test::kFrdeepBatches + "/batches.meta",
                             dir.file("batches.meta"));
  CHECK(error_of([&] {
          radgal::read_batch_dir(dir.path(), "train");
        }).find("no data_batch_* files") != std::string::npos);
  CHECK(error_of([&] { radgal::read_batch_dir(dir.path(), "test"); }).find("test_batch") !=
        std::string::npos);
  CHECK(error_of([&] { radgal::read_batch_dir(dir.path(), "val"); }).find("unknown split") !=
        std::string::npos);
  // A MiraBest batch (labels up to 9) under FRDEEP-F's two label names.
  std::filesystem::copy_file(radgal::test::kMiraBestBatches + "/test_batch",
                             dir.file("test_batch"));
  CHECK(error_of([&] { radgal::read_batch_dir(dir.path(), "test"); }).find("names only 2 labels") !=
        std::string::npos);
  // An empty file where a batch should be.
  radgal::test::write_bytes(dir.file("test_batch"), nullptr, 0);
  CHECK(error_of([&] { radgal::read_batch_dir(dir.path(), "test"); }).find("empty") !=
        std::string::npos);
}

TEST_CASE("batches: a missing training batch is an error, not a smaller set") {
  TempDir dir;
  const std::string meta = radgal::test::kMiraBestBatches + "/batches.meta";
  std::filesystem::create_symlink(meta, dir.file("batches.meta"));
  std::filesystem::create_symlink(radgal::test::kMiraBestBatches + "/test_batch",
                                  dir.file("test_batch"));
  for (int i : {1, 2, 3, 4, 5, 7}) {
    const std::string name = "data_batch_" + std::to_string(i);
    std::filesystem::create_symlink(radgal::test::kMiraBestBatches + "/" + name, dir.file(name));
  }
  // A gap in the numbering.
  std::string error = error_of([&] { radgal::read_batch_dir(dir.path(), "train"); });
  CHECK(error.find(dir.path()) != std::string::npos);
  CHECK(error.find("missing data_batch_6 (") != std::string::npos);
  CHECK(error_of([&] { radgal::check_release_dir(dir.path()); }).find("data_batch_6") !=
        std::string::npos);
  // The test split alone does not need the training batches.
  CHECK(radgal::read_batch_dir(dir.path(), "test").size() == 157);
  // No gap, but the official batches.meta promises seven training batches.
  std::filesystem::remove(dir.file("data_batch_7"));
  error = error_of([&] { radgal::read_batch_dir(dir.path(), "all"); });
  CHECK(error.find("missing data_batch_6, data_batch_7") != std::string::npos);
  CHECK(error.find("official MiraBest") != std::string::npos);
}

TEST_CASE("image set file: round trip, and damage is detected") {
  TempDir dir;
  ImageSet set;
  set.height = 3;
  set.width = 2;
  set.label_names = {"100", "200"};
  set.labels = {1, 0, 1};
  set.filenames = {"a.fits.fz", "", "c\xc3\xa9"};
  for (int i = 0; i < 18; ++i) set.pixels.push_back(uint8_t(i * 13));
  radgal::write_image_set(dir.file("s.rgis"), set, "{\"made_by\": \"test\"}");

  std::string meta;
  const ImageSet back = radgal::read_image_set(dir.file("s.rgis"), &meta);
  CHECK(back.height == 3);
  CHECK(back.width == 2);
  CHECK(back.labels == set.labels);
  CHECK(back.filenames == set.filenames);
  CHECK(back.label_names == set.label_names);
  CHECK(back.pixels == set.pixels);
  CHECK(meta == "{\"made_by\": \"test\"}");
  // No temporary file is left next to it.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    files += e.is_regular_file();
  CHECK(files == 1);

  std::vector<uint8_t> bytes = radgal::test::read_bytes(dir.file("s.rgis"));
  auto read_error = [&](const std::vector<uint8_t>& b) {
    radgal::test::write_bytes(dir.file("bad.rgis"), b);
    return error_of([&] { radgal::read_image_set(dir.file("bad.rgis")); });
  };
  std::vector<uint8_t> flipped = bytes;
  flipped[bytes.size() - 10] ^= 0x40;
  CHECK(read_error(flipped).find("CRC mismatch") != std::string::npos);
  CHECK(read_error({bytes.begin(), bytes.begin() + 30}).find("CRC") != std::string::npos);
  CHECK(read_error({}).find("magic") != std::string::npos);
  CHECK(read_error(radgal::test::read_bytes(radgal::test::kFrdeepBatches + "/batches.meta"))
            .find("magic") != std::string::npos);

  set.labels.push_back(0);  // now inconsistent with the pixels
  CHECK(error_of([&] { radgal::write_image_set(dir.file("t.rgis"), set); }).find("inconsistent") !=
        std::string::npos);
}
