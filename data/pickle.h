// A restricted pickle reader for the CIFAR-style batched releases (MiraBest, FRDEEP-F).
//
// A pickle is a program for a small stack machine, and Python's own reader will call any
// function the program names. This reader runs only data-building opcodes (protocols 2 to 4:
// ints, floats, strings, bytes, lists, tuples, dicts, the memo) and knows exactly the few
// callables numpy writes for arrays and scalars:
//   numpy.core.multiarray._reconstruct (and numpy._core...), numpy.ndarray, numpy.dtype,
//   numpy.core.multiarray.scalar (and numpy._core...), _codecs.encode (bytes at protocol 2).
// Those are interpreted here, never called. Any other global, any other use of REDUCE/BUILD, and
// every other opcode is an error naming the opcode or global and its byte offset, so a pickle
// that tries to run a command is refused before anything happens.
//
// Values live in an arena owned by the Document, so reference cycles a hostile file may build
// cannot leak, and nothing walks the tree recursively.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace radgal::pickle {

enum class Kind {
  none,
  boolean,
  integer,
  floating,
  text,   // Python str (stored as UTF-8)
  bytes,  // Python bytes, or a Python 2 str (raw 8-bit)
  list,
  tuple,
  dict,      // items hold key, value, key, value, ...
  array,     // numpy.ndarray
  dtype,     // numpy.dtype
  callable,  // one of the allowed globals, not yet applied
};

struct Value {
  Kind kind = Kind::none;
  int64_t integer = 0;        // boolean, integer
  double floating = 0.0;      // floating
  std::string text;           // text, bytes, callable (its "module.name"), dtype (e.g. "u1")
  std::vector<Value*> items;  // list, tuple, dict
  // array: shape and raw C-order data; dtype: byte order ('<', '>', '|' or '=')
  std::vector<int64_t> shape;
  std::string array_dtype;  // e.g. "u1", "<f4"
  std::string data;
  char byte_order = '|';

  bool is_text() const { return kind == Kind::text || kind == Kind::bytes; }
  // The value stored under a text key of a dict, or nullptr. Keys may be str or Python 2 str.
  const Value* find(const std::string& key) const;
};

class Document {
 public:
  const Value* root() const { return root_; }

 private:
  friend class Reader;
  std::vector<std::unique_ptr<Value>> arena_;
  const Value* root_ = nullptr;
};

// Runs the pickle in bytes[0, size). source names the file in error messages. Throws
// std::runtime_error for anything outside the subset above, for truncation (no STOP before the
// end) and for structural errors (stack underflow, unknown memo key).
Document parse(const uint8_t* bytes, size_t size, const std::string& source);

const char* kind_name(Kind kind);

}  // namespace radgal::pickle
