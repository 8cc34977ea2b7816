// The restricted pickle reader: pickles written by Python (tests/data/make_data_fixtures.py),
// hand-assembled hostile ones, and truncated real batches.
#include <doctest/doctest.h>

#include <filesystem>

#include "data/batches.h"
#include "data/pickle.h"
#include "data_test_util.h"

namespace pk = radgal::pickle;
using radgal::test::pickle_case;

namespace {

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    pk::parse(bytes.data(), bytes.size(), "case");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// The bytes of a string literal, embedded NULs included, without the terminating one.
template <size_t N>
std::vector<uint8_t> bytes_of(const char (&s)[N]) {
  return {s, s + N - 1};
}

}  // namespace

TEST_CASE("pickle: protocol-2 bytes through _codecs.encode") {
  const auto bytes = pickle_case("proto2_bytes");
  const pk::Document doc = pk::parse(bytes.data(), bytes.size(), "proto2_bytes");
  const pk::Value* a = doc.root()->find("a");
  REQUIRE(a);
  CHECK(a->kind == pk::Kind::bytes);
  CHECK(a->text == std::string("\x00\xff\x10", 3));
}

TEST_CASE("pickle: Fortran-ordered arrays come out in C order, float arrays keep their type") {
  auto bytes = pickle_case("fortran_array");
  pk::Document doc = pk::parse(bytes.data(), bytes.size(), "fortran_array");
  const pk::Value* a = doc.root();
  REQUIRE(a->kind == pk::Kind::array);
  CHECK(a->shape == std::vector<int64_t>{2, 3});
  CHECK(a->data == std::string("\x00\x01\x02\x03\x04\x05", 6));

  bytes = pickle_case("float_array");
  doc = pk::parse(bytes.data(), bytes.size(), "float_array");
  CHECK(doc.root()->array_dtype == "f8");
  CHECK(doc.root()->byte_order == '<');
  CHECK(doc.root()->data.size() == 16);
}

TEST_CASE("pickle: a pickle that calls os.system is refused and runs nothing") {
  for (const char* name : {"runs_command_protocol2", "runs_command_protocol4"}) {
    CAPTURE(name);
    const std::string marker =
        radgal::test::fixtures()["pickles"][name]["marker"].get<std::string>();
    std::filesystem::remove(marker);
    const std::string e = parse_error(pickle_case(name));
    CHECK(e.find("refused global 'posix.system'") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(marker));
  }
  // Protocol 2 writes Python 2's module name for eval.
  CHECK(parse_error(pickle_case("runs_eval")).find("refused global '__builtin__.eval'") !=
        std::string::npos);
}

TEST_CASE("pickle: object-construction opcodes and unknown opcodes are refused") {
  // INST, OBJ and NEWOBJ build arbitrary objects; 0xff is no opcode at all.
  CHECK(parse_error(bytes_of("(ios\nsystem\nS'ls'\n.")).find("opcode 0x69") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02(o.")).find("opcode 0x6f") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02)\x81.")).find("opcode 0x81") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02\xff.")).find("opcode 0xff") != std::string::npos);
  // Calling a container or a value is not calling an allowed callable.
  CHECK(parse_error(bytes_of("\x80\x02])R.")).find("REDUCE on a list") != std::string::npos);
  // numpy.ndarray may only be reconstructed, not called.
  CHECK(parse_error(bytes_of("\x80\x02\x63numpy\nndarray\n)R.")).find("not allowed") !=
        std::string::npos);
  // An object array would need arbitrary Python objects.
  CHECK_FALSE(parse_error(pickle_case("object_array")).empty());
}

TEST_CASE("pickle: structural errors are reported, not crashed on") {
  CHECK(parse_error({}).find("empty") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02")).find("without a STOP") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02.")).find("STOP with 0 values") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02\x61.")).find("underflow") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02h\x05.")).find("memo key 5") != std::string::npos);
  CHECK(parse_error(bytes_of("\x80\x02\x65.")).find("MARK") != std::string::npos);
  // A length far beyond the end of the file.
  CHECK(parse_error(bytes_of("\x80\x02X\xff\xff\xff\x7f")).find("past the end") !=
        std::string::npos);
  // A MARK hides what lies below it.
  CHECK(parse_error(bytes_of("\x80\x02](a.")).find("underflow") != std::string::npos);
}

TEST_CASE("pickle: a tiny file cannot make the reader build millions of values") {
  // EMPTY_LIST then five million DUP opcodes: 5 MB that would otherwise become a huge stack.
  std::vector<uint8_t> bytes = {0x80, 0x02, ']'};
  bytes.insert(bytes.end(), 5000000, '2');
  bytes.push_back('.');
  CHECK(parse_error(bytes).find("more than 4194304 values") != std::string::npos);
}

TEST_CASE("pickle: a self-referencing list parses without leaking") {
  // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND: the list contains itself.
  const auto bytes = bytes_of("\x80\x02]q\x00h\x00\x61.");
  const pk::Document doc = pk::parse(bytes.data(), bytes.size(), "cycle");
  REQUIRE(doc.root()->kind == pk::Kind::list);
  CHECK(doc.root()->items.at(0) == doc.root());
}

TEST_CASE("pickle: every truncation of a real batch is an error") {
  const std::vector<uint8_t> whole =
      radgal::test::read_bytes(radgal::test::kFrdeepBatches + "/test_batch");
  REQUIRE(whole.size() > 100000);
  for (size_t cut : {size_t(1), size_t(2), size_t(50), size_t(400), whole.size() / 3,
                     whole.size() / 2, whole.size() - 2, whole.size() - 1}) {
    CAPTURE(cut);
    const std::string e = parse_error({whole.begin(), whole.begin() + long(cut)});
    CHECK_FALSE(e.empty());
  }
}

TEST_CASE("pickle: batch files of protocols 2, 3 and 4 read the same") {
  radgal::test::TempDir dir;
  for (int protocol : {2, 3, 4}) {
    const std::string name = "batch_protocol" + std::to_string(protocol);
    CAPTURE(name);
    radgal::test::write_bytes(dir.file(name), pickle_case(name));
    const radgal::ImageSet set = radgal::read_batch_file(dir.file(name));
    const auto& expected = radgal::test::fixtures()["pickles"][name];
    REQUIRE(set.size() == 2);
    CHECK(set.labels == expected["labels"].get<std::vector<int>>());
    CHECK(set.filenames == expected["filenames"].get<std::vector<std::string>>());
    for (size_t i = 0; i < 2; ++i) {
      int64_t sum = 0;
      for (int p = 0; p < 22500; ++p) sum += set.image(i)[p];
      CHECK(sum == expected["pixel_sums"][i].get<int64_t>());
    }
  }
  radgal::test::write_bytes(dir.file("flat"), pickle_case("batch_flat_images"));
  CHECK(radgal::read_batch_file(dir.file("flat")).size() == 2);
}

TEST_CASE("pickle: batches with wrong shapes or labels are refused with the reason") {
  radgal::test::TempDir dir;
  auto error_for = [&](const std::string& name) {
    radgal::test::write_bytes(dir.file(name), pickle_case(name));
    try {
      radgal::read_batch_file(dir.file(name));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  std::string e = error_for("batch_bad_shape");
  CHECK(e.find("batch_bad_shape") != std::string::npos);
  CHECK(e.find("(100, 100)") != std::string::npos);
  e = error_for("batch_bad_label");
  CHECK(e.find("label 1 is not an integer in 0..9") != std::string::npos);
  // A pickle that holds something other than a batch dict.
  e = error_for("fortran_array");
  CHECK(e.find("not the dict of a batch") != std::string::npos);
}
