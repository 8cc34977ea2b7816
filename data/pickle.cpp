#include "data/pickle.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace radgal::pickle {

namespace {

// The callables a numpy pickle names, by the "module.name" GLOBAL gives. Both spellings of the
// multiarray module exist: numpy 2 writes numpy._core, numpy 1 numpy.core.
enum class Callable { reconstruct, ndarray, dtype, scalar, codecs_encode };

bool allowed_global(const std::string& name, Callable& which) {
  if (name == "numpy.core.multiarray._reconstruct" ||
      name == "numpy._core.multiarray._reconstruct") {
    which = Callable::reconstruct;
  } else if (name == "numpy.ndarray") {
    which = Callable::ndarray;
  } else if (name == "numpy.dtype") {
    which = Callable::dtype;
  } else if (name == "numpy.core.multiarray.scalar" || name == "numpy._core.multiarray.scalar") {
    which = Callable::scalar;
  } else if (name == "_codecs.encode") {
    which = Callable::codecs_encode;
  } else {
    return false;
  }
  return true;
}

// Bytes per element of a numpy type string such as "u1", "f8", "U54", "S10", "b1"; 0 when the
// kind is one we do not read (objects, structured types, datetimes...).
int64_t item_size(const std::string& descr) {
  if (descr.size() < 2) return 0;
  const char kind = descr[0];
  int64_t n = 0;
  for (size_t i = 1; i < descr.size(); ++i) {
    if (descr[i] < '0' || descr[i] > '9' || n > 1000000) return 0;
    n = n * 10 + (descr[i] - '0');
  }
  switch (kind) {
    case 'u':
    case 'i':
    case 'f':
    case 'b':
    case 'S':
      return n;
    case 'U':
      return 4 * n;
    default:
      return 0;
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::text:
      return "str";
    case Kind::bytes:
      return "bytes";
    case Kind::list:
      return "list";
    case Kind::tuple:
      return "tuple";
    case Kind::dict:
      return "dict";
    case Kind::array:
      return "numpy.ndarray";
    case Kind::dtype:
      return "numpy.dtype";
    case Kind::callable:
      return "callable";
  }
  return "?";
}

const Value* Value::find(const std::string& key) const {
  if (kind != Kind::dict) return nullptr;
  for (size_t i = 0; i + 1 < items.size(); i += 2) {
    if (items[i]->is_text() && items[i]->text == key) return items[i + 1];
  }
  return nullptr;
}

class Reader {
 public:
  Reader(const uint8_t* bytes, size_t size, const std::string& source)
      : p_(bytes), size_(size), source_(source) {}

  Document run() {
    while (true) {
      if (pos_ >= size_) fail("the pickle ends without a STOP opcode (truncated file?)");
      op_pos_ = pos_;
      const uint8_t op = p_[pos_++];
      if (op == '.') break;
      step(op);
    }
    if (stack_.size() != 1 || !marks_.empty()) {
      fail("STOP with " + std::to_string(stack_.size()) + " values on the stack (expected 1)");
    }
    doc_.root_ = stack_.back();
    return std::move(doc_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("pickle: " + source_ + ": byte " + std::to_string(op_pos_) + ": " +
                             what);
  }

  // Reading operands.
  const uint8_t* take(uint64_t n) {
    if (n > size_ - pos_) {
      fail("an operand of " + std::to_string(n) + " bytes runs past the end of the file (" +
           std::to_string(size_ - pos_) + " left; truncated file?)");
    }
    const uint8_t* at = p_ + pos_;
    pos_ += n;
    return at;
  }
  uint64_t read_le(int n) {
    const uint8_t* b = take(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[i];
    return v;
  }
  std::string read_line() {
    const size_t start = pos_;
    while (pos_ < size_ && p_[pos_] != '\n') ++pos_;
    if (pos_ >= size_) fail("a GLOBAL name runs past the end of the file");
    std::string line(reinterpret_cast<const char*>(p_ + start), pos_ - start);
    ++pos_;
    return line;
  }

  // The stack.
  Value* make(Kind kind) {
    doc_.arena_.push_back(std::make_unique<Value>());
    doc_.arena_.back()->kind = kind;
    return doc_.arena_.back().get();
  }
  void push(Value* v) {
    spend(1);
    stack_.push_back(v);
  }
  // Every push and every container item costs one unit. A few bytes of DUP or NONE opcodes
  // could otherwise ask for gigabytes; a real batch needs a few thousand units.
  void spend(size_t units) {
    budget_used_ += units;
    if (budget_used_ > kBudget) {
      fail("the pickle builds more than " + std::to_string(kBudget) +
           " values, far more than any batch file");
    }
  }
  Value* pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Value*> pop_to_mark() {
    if (marks_.empty()) fail("an opcode needs a MARK but none is set");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<Value*> items(stack_.begin() + mark, stack_.end());
    stack_.resize(mark);
    return items;
  }

  Value* text_value(Kind kind, uint64_t length) {
    Value* v = make(kind);
    const uint8_t* b = take(length);
    v->text.assign(reinterpret_cast<const char*>(b), length);
    return v;
  }
  Value* integer_value(int64_t i) {
    Value* v = make(Kind::integer);
    v->integer = i;
    return v;
  }
  Value* tuple_of(std::vector<Value*> items) {
    Value* v = make(Kind::tuple);
    v->items = std::move(items);
    return v;
  }

  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  void append_items(Value* list, const std::vector<Value*>& items) {
    if (list->kind != Kind::list) fail(std::string("APPEND to a ") + kind_name(list->kind));
    spend(items.size());
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  void set_items(Value* dict, const std::vector<Value*>& items) {
    if (dict->kind != Kind::dict) fail(std::string("SETITEM on a ") + kind_name(dict->kind));
    if (items.size() % 2) fail("SETITEMS with an odd number of values");
    spend(items.size());
    dict->items.insert(dict->items.end(), items.begin(), items.end());
  }

  Value* global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    Callable which;
    if (!allowed_global(full, which)) {
      fail("refused global '" + full +
           "': this reader builds only numpy arrays, scalars and plain containers and never "
           "calls anything a file names");
    }
    Value* v = make(Kind::callable);
    v->text = full;
    v->integer = int64_t(which);
    return v;
  }

  void step(uint8_t op);
  Value* reduce(Value* callable, Value* args);
  void build(Value* object, Value* state);
  Value* scalar(const Value* dtype, const Value* raw);

  const uint8_t* p_;
  size_t size_, pos_ = 0, op_pos_ = 0;
  std::string source_;
  Document doc_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  static constexpr size_t kBudget = size_t(1) << 22;
  size_t budget_used_ = 0;
};

void Reader::step(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      const uint64_t protocol = read_le(1);
      if (protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " is unknown");
      break;
    }
    case 0x95:  // FRAME: a length prefix for the opcodes that follow; they are read as usual
      read_le(8);
      break;
    case '(':
      marks_.push_back(stack_.size());
      break;  // MARK
    case '0':
      pop();
      break;  // POP
    case '1':
      pop_to_mark();
      break;  // POP_MARK
    case '2':
      push(top());
      break;  // DUP
    case 'N':
      push(make(Kind::none));
      break;
    case 0x88:    // NEWTRUE
    case 0x89: {  // NEWFALSE
      Value* v = make(Kind::boolean);
      v->integer = op == 0x88;
      push(v);
      break;
    }
    case 'J':
      push(integer_value(int32_t(uint32_t(read_le(4)))));
      break;  // BININT
    case 'K':
      push(integer_value(int64_t(read_le(1))));
      break;  // BININT1
    case 'M':
      push(integer_value(int64_t(read_le(2))));
      break;      // BININT2
    case 0x8a: {  // LONG1
      const int n = int(read_le(1));
      if (n > 8) fail("an integer of " + std::to_string(n) + " bytes does not fit 64 bits");
      uint64_t u = n ? read_le(n) : 0;
      if (n > 0 && n < 8 && (u >> (8 * n - 1))) u |= ~uint64_t(0) << (8 * n);  // sign-extend
      push(integer_value(int64_t(u)));
      break;
    }
    case 'G': {  // BINFLOAT, big-endian
      const uint8_t* b = take(8);
      uint64_t u = 0;
      for (int i = 0; i < 8; ++i) u = (u << 8) | b[i];
      Value* v = make(Kind::floating);
      std::memcpy(&v->floating, &u, 8);
      push(v);
      break;
    }
    case 'T': {  // BINSTRING (Python 2 str), signed 4-byte length
      const int32_t n = int32_t(uint32_t(read_le(4)));
      if (n < 0) fail("negative string length");
      push(text_value(Kind::bytes, uint64_t(n)));
      break;
    }
    case 'U':
      push(text_value(Kind::bytes, read_le(1)));
      break;  // SHORT_BINSTRING
    case 'X':
      push(text_value(Kind::text, read_le(4)));
      break;  // BINUNICODE
    case 0x8c:
      push(text_value(Kind::text, read_le(1)));
      break;  // SHORT_BINUNICODE
    case 0x8d:
      push(text_value(Kind::text, read_le(8)));
      break;  // BINUNICODE8
    case 'B':
      push(text_value(Kind::bytes, read_le(4)));
      break;  // BINBYTES
    case 'C':
      push(text_value(Kind::bytes, read_le(1)));
      break;  // SHORT_BINBYTES
    case 0x8e:
      push(text_value(Kind::bytes, read_le(8)));
      break;  // BINBYTES8
    case ']':
      push(make(Kind::list));
      break;  // EMPTY_LIST
    case ')':
      push(make(Kind::tuple));
      break;  // EMPTY_TUPLE
    case '}':
      push(make(Kind::dict));
      break;     // EMPTY_DICT
    case 'l': {  // LIST
      Value* v = make(Kind::list);
      v->items = pop_to_mark();
      push(v);
      break;
    }
    case 't':
      push(tuple_of(pop_to_mark()));
      break;     // TUPLE
    case 'd': {  // DICT
      Value* v = make(Kind::dict);
      set_items(v, pop_to_mark());
      push(v);
      break;
    }
    case 0x85:    // TUPLE1
    case 0x86:    // TUPLE2
    case 0x87: {  // TUPLE3
      const int n = op - 0x84;
      std::vector<Value*> items(n);
      for (int i = n - 1; i >= 0; --i) items[i] = pop();
      push(tuple_of(std::move(items)));
      break;
    }
    case 'a': {  // APPEND
      Value* item = pop();
      append_items(top(), {item});
      break;
    }
    case 'e': {  // APPENDS
      std::vector<Value*> items = pop_to_mark();
      append_items(top(), items);
      break;
    }
    case 's': {  // SETITEM
      Value* value = pop();
      Value* key = pop();
      set_items(top(), {key, value});
      break;
    }
    case 'u': {  // SETITEMS
      std::vector<Value*> items = pop_to_mark();
      set_items(top(), items);
      break;
    }
    case 'q':
      memo_put(read_le(1));
      break;  // BINPUT
    case 'r':
      memo_put(read_le(4));
      break;  // LONG_BINPUT
    case 0x94:
      memo_put(memo_.size());
      break;  // MEMOIZE
    case 'h':
      memo_get(read_le(1));
      break;  // BINGET
    case 'j':
      memo_get(read_le(4));
      break;     // LONG_BINGET
    case 'c': {  // GLOBAL
      const std::string module = read_line();
      const std::string name = read_line();
      push(global(module, name));
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      Value* name = pop();
      Value* module = pop();
      if (!name->is_text() || !module->is_text()) fail("STACK_GLOBAL needs two strings");
      push(global(module->text, name->text));
      break;
    }
    case 'R': {  // REDUCE
      Value* args = pop();
      Value* callable = pop();
      push(reduce(callable, args));
      break;
    }
    case 'b': {  // BUILD
      Value* state = pop();
      build(top(), state);
      break;
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      const bool printable = op >= 0x20 && op < 0x7f;
      fail(std::string("unsupported pickle opcode ") + hex +
           (printable ? std::string(" ('") + char(op) + "')" : std::string()) +
           "; the batched releases use only plain data opcodes");
    }
  }
}

Value* Reader::reduce(Value* callable, Value* args) {
  if (callable->kind != Kind::callable) {
    fail(std::string("REDUCE on a ") + kind_name(callable->kind) + ", not an allowed callable");
  }
  if (args->kind != Kind::tuple) fail("REDUCE arguments are not a tuple");
  const auto& a = args->items;
  switch (Callable(callable->integer)) {
    case Callable::reconstruct: {
      // _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills in.
      if (a.empty() || a[0]->kind != Kind::callable ||
          Callable(a[0]->integer) != Callable::ndarray) {
        fail("_reconstruct is allowed only for numpy.ndarray");
      }
      return make(Kind::array);
    }
    case Callable::dtype: {
      if (a.empty() || !a[0]->is_text()) fail("numpy.dtype needs a type string");
      if (item_size(a[0]->text) == 0) fail("numpy dtype '" + a[0]->text + "' is not supported");
      Value* v = make(Kind::dtype);
      v->text = a[0]->text;
      return v;
    }
    case Callable::scalar: {
      if (a.size() != 2 || a[0]->kind != Kind::dtype || a[1]->kind != Kind::bytes) {
        fail("numpy scalar needs (dtype, bytes)");
      }
      return scalar(a[0], a[1]);
    }
    case Callable::codecs_encode: {
      // Python 3 writes bytes at protocol 2 as _codecs.encode(latin-1 text, 'latin1').
      if (a.size() != 2 || a[0]->kind != Kind::text || !a[1]->is_text() ||
          (a[1]->text != "latin1" && a[1]->text != "latin-1")) {
        fail("_codecs.encode is allowed only as (str, 'latin1')");
      }
      Value* v = make(Kind::bytes);
      const std::string& s = a[0]->text;
      for (size_t i = 0; i < s.size();) {
        const uint8_t c = uint8_t(s[i]);
        if (c < 0x80) {
          v->text += char(c);
          i += 1;
        } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
          const uint32_t cp = ((c & 0x1Fu) << 6) | (uint8_t(s[i + 1]) & 0x3Fu);
          if (cp > 0xFF) fail("_codecs.encode: a character beyond latin-1");
          v->text += char(cp);
          i += 2;
        } else {
          fail("_codecs.encode: a character beyond latin-1");
        }
      }
      return v;
    }
    case Callable::ndarray:
      break;
  }
  fail("calling '" + callable->text + "' directly is not allowed");
}

void Reader::build(Value* object, Value* state) {
  if (state->kind != Kind::tuple) fail("BUILD state is not a tuple");
  const auto& s = state->items;
  if (object->kind == Kind::dtype) {
    // (version, byte order, subarray, names, fields, elsize, alignment, flags)
    if (s.size() < 5 || !s[1]->is_text() || s[1]->text.size() != 1) fail("bad numpy.dtype state");
    if (s[2]->kind != Kind::none || s[3]->kind != Kind::none || s[4]->kind != Kind::none) {
      fail("structured or sub-array numpy dtypes are not supported");
    }
    object->byte_order = s[1]->text[0];
    return;
  }
  if (object->kind != Kind::array || !object->array_dtype.empty()) {
    fail(std::string("BUILD is allowed only on a new numpy array or dtype, not a ") +
         kind_name(object->kind));
  }
  // (version, shape, dtype, is_fortran, raw data); numpy before 1.0 left out the version.
  const size_t o = s.size() == 5 ? 1 : 0;
  if (s.size() != 4 && s.size() != 5) fail("bad numpy.ndarray state");
  const Value* shape = s[o];
  const Value* dtype = s[o + 1];
  const Value* fortran = s[o + 2];
  const Value* raw = s[o + 3];
  if (shape->kind != Kind::tuple || dtype->kind != Kind::dtype ||
      (fortran->kind != Kind::boolean && fortran->kind != Kind::integer) ||
      raw->kind != Kind::bytes) {
    fail("bad numpy.ndarray state (an object array or an unknown layout)");
  }
  const int64_t itemsize = item_size(dtype->text);
  int64_t count = 1;
  for (const Value* d : shape->items) {
    if (d->kind != Kind::integer || d->integer < 0 || d->integer > (int64_t(1) << 40)) {
      fail("bad numpy array dimension");
    }
    object->shape.push_back(d->integer);
    count *= d->integer;
    if (count > (int64_t(1) << 40)) fail("numpy array too large");
  }
  if (int64_t(raw->text.size()) != count * itemsize) {
    fail("numpy array of " + std::to_string(count) + " x " + dtype->text + " holds " +
         std::to_string(raw->text.size()) + " bytes");
  }
  object->array_dtype = dtype->text;
  object->byte_order = dtype->byte_order;
  if (!fortran->integer || object->shape.size() < 2) {
    object->data = raw->text;
    return;
  }
  // Column-major data: move each element to its row-major place.
  const size_t rank = object->shape.size();
  object->data.assign(raw->text.size(), '\0');
  std::vector<int64_t> index(rank, 0);
  for (int64_t f = 0; f < count; ++f) {
    int64_t c = 0;
    for (size_t d = 0; d < rank; ++d) c = c * object->shape[d] + index[d];
    std::memcpy(&object->data[c * itemsize], &raw->text[f * itemsize], itemsize);
    for (size_t d = 0; d < rank; ++d) {  // Fortran order: the first index runs fastest
      if (++index[d] < object->shape[d]) break;
      index[d] = 0;
    }
  }
}

Value* Reader::scalar(const Value* dtype, const Value* raw) {
  const std::string& d = dtype->text;
  const int64_t size = item_size(d);
  if (int64_t(raw->text.size()) != size) fail("numpy scalar of type " + d + " has a bad size");
  const bool big = dtype->byte_order == '>';
  auto byte = [&](int64_t i) { return uint8_t(raw->text[size_t(i)]); };
  auto unsigned_at = [&](int64_t offset, int64_t n) {
    uint64_t v = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = big ? offset + i : offset + n - 1 - i;
      v = (v << 8) | byte(k);
    }
    return v;
  };
  switch (d[0]) {
    case 'U': {  // UCS-4; numpy pads with NUL characters
      Value* v = make(Kind::text);
      for (int64_t i = 0; i < size; i += 4) {
        const uint32_t cp = uint32_t(unsigned_at(i, 4));
        if (cp == 0) break;
        if (cp > 0x10FFFF) fail("numpy str scalar holds an invalid character");
        append_utf8(v->text, cp);
      }
      return v;
    }
    case 'S': {
      Value* v = make(Kind::bytes);
      v->text = raw->text.substr(0, raw->text.find('\0'));
      return v;
    }
    case 'b': {
      Value* v = make(Kind::boolean);
      v->integer = byte(0) != 0;
      return v;
    }
    case 'u':
    case 'i': {
      if (size != 1 && size != 2 && size != 4 && size != 8) break;
      uint64_t u = unsigned_at(0, size);
      if (d[0] == 'i' && size < 8 && (u >> (8 * size - 1))) u |= ~uint64_t(0) << (8 * size);
      return integer_value(int64_t(u));
    }
    case 'f': {
      Value* v = make(Kind::floating);
      if (size == 8) {
        const uint64_t u = unsigned_at(0, 8);
        std::memcpy(&v->floating, &u, 8);
      } else if (size == 4) {
        const uint32_t u = uint32_t(unsigned_at(0, 4));
        float f;
        std::memcpy(&f, &u, 4);
        v->floating = f;
      } else {
        break;
      }
      return v;
    }
  }
  fail("numpy scalar of type " + d + " is not supported");
}

Document parse(const uint8_t* bytes, size_t size, const std::string& source) {
  if (size == 0) throw std::runtime_error("pickle: " + source + ": the file is empty");
  return Reader(bytes, size, source).run();
}

}  // namespace radgal::pickle
