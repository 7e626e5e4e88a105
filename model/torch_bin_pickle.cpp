#include "model/torch_bin_pickle.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <deque>
#include <limits>
#include <map>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/utf8.h"
#include "model/tensor_io_file.h"

namespace electra {
namespace {

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat}, {"HalfStorage", at::kHalf},   {"BFloat16Storage", at::kBFloat16},
    {"DoubleStorage", at::kDouble}, {"LongStorage", at::kLong}, {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort}, {"CharStorage", at::kChar},   {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
};

// Bounds that no state dict comes near; they keep a hostile pickle from exhausting memory or time.
constexpr size_t kMaxValues = size_t{1} << 22;
constexpr uint32_t kMaxStringBytes = 1 << 16;

constexpr const char* kOrderedDict = "collections OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils _rebuild_tensor_v2";

class Unpickler {
 public:
  Unpickler(const std::string& data, const std::string& where, const StorageLoader& load)
      : data_(data), where_(where), load_(load) {}

  TensorMap run();

 private:
  enum class Kind { none, boolean, integer, string, tuple, dict, global, storage, tensor };
  // Values live in an arena and point at each other with raw pointers: no recursive destruction, and the
  // cycles a hostile pickle can build (a dict inside itself) cost nothing.
  struct Value {
    Kind kind = Kind::none;
    int64_t integer = 0;
    std::string text;  // string, global "module name", storage key
    std::vector<Value*> items;
    std::vector<std::pair<Value*, Value*>> entries;
    std::unordered_map<std::string_view, size_t> str_index;  // dict key -> position in entries
    std::unordered_map<int64_t, size_t> int_index;
    at::Tensor tensor;                              // storage (1-D) or tensor view of one
    std::string storage_key;
  };

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(fmt::format("{} at byte {}: {}", where_, op_pos_, what));
  }
  static const char* kind_name(Kind k);
  std::string describe(const Value* v) const;

  Value* make(Kind kind) {
    if (arena_.size() >= kMaxValues) fail(fmt::format("more than {} objects: not a state dict", kMaxValues));
    arena_.emplace_back();
    arena_.back().kind = kind;
    return &arena_.back();
  }
  Value* make_int(int64_t v) {
    Value* x = make(Kind::integer);
    x->integer = v;
    return x;
  }
  const unsigned char* take(size_t n) {
    if (n > data_.size() - pos_) fail(fmt::format("pickle ends in the middle of an opcode (needs {} more bytes)", n));
    const auto* p = reinterpret_cast<const unsigned char*>(data_.data()) + pos_;
    pos_ += n;
    return p;
  }
  std::string take_line() {
    const size_t nl = data_.find('\n', pos_);
    if (nl == std::string::npos || nl - pos_ > 256) fail("GLOBAL name is not a short newline-terminated line");
    std::string s = data_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
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
  std::vector<Value*> pop_to_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::vector<Value*> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Value* tuple(std::vector<Value*> items) {
    Value* t = make(Kind::tuple);
    t->items = std::move(items);
    return t;
  }
  // Python dict semantics for the key types a state dict uses: a repeated key replaces the value in place.
  void set_item(Value* dict, Value* key, Value* value) {
    if (dict->kind != Kind::dict) fail(fmt::format("SETITEM on a {}, not a dict", kind_name(dict->kind)));
    size_t position = dict->entries.size();
    bool inserted = false;
    if (key->kind == Kind::string) {
      const auto r = dict->str_index.emplace(key->text, position);
      std::tie(position, inserted) = std::pair(r.first->second, r.second);
    } else if (key->kind == Kind::integer) {
      const auto r = dict->int_index.emplace(key->integer, position);
      std::tie(position, inserted) = std::pair(r.first->second, r.second);
    } else {
      fail(fmt::format("dict key of type {} is not allowed in a state dict", kind_name(key->kind)));
    }
    if (inserted) dict->entries.emplace_back(key, value);
    else dict->entries[position].second = value;
  }
  int64_t integer(const Value* v, const char* what) const {
    if (v->kind != Kind::integer) fail(fmt::format("{} is {}, not an integer", what, describe(v)));
    return v->integer;
  }

  Value* global(const std::string& module, const std::string& name);
  Value* persistent_load(Value* pid);
  Value* reduce(Value* callable, Value* args);
  Value* rebuild_tensor(const std::vector<Value*>& args);
  TensorMap to_state_dict(Value* root);

  const std::string& data_;
  const std::string& where_;
  const StorageLoader& load_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::deque<Value> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value*> memo_;
  std::map<std::string, Value*> storages_;
};

const char* Unpickler::kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::string: return "str";
    case Kind::tuple: return "tuple";
    case Kind::dict: return "dict";
    case Kind::global: return "global";
    case Kind::storage: return "storage";
    case Kind::tensor: return "tensor";
  }
  return "?";
}

std::string Unpickler::describe(const Value* v) const {
  switch (v->kind) {
    case Kind::integer: return std::to_string(v->integer);
    case Kind::string: return fmt::format("'{}'", v->text.substr(0, 80));
    case Kind::global: return fmt::format("global '{}'", v->text);
    default: return kind_name(v->kind);
  }
}

Unpickler::Value* Unpickler::global(const std::string& module, const std::string& name) {
  const std::string full = module + " " + name;
  bool allowed = full == kOrderedDict || full == kRebuildTensor;
  if (module == "torch")
    for (const auto& s : kStorageTypes) allowed = allowed || name == s.name;
  if (!allowed) {
    fail(fmt::format("refusing GLOBAL '{}': a state dict pickle only names collections.OrderedDict, "
                     "torch._utils._rebuild_tensor_v2 and torch.*Storage types",
                     full));
  }
  Value* g = make(Kind::global);
  g->text = full;
  return g;
}

Unpickler::Value* Unpickler::persistent_load(Value* pid) {
  if (pid->kind != Kind::tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::string ||
      pid->items[0]->text != "storage")
    fail(fmt::format("persistent id is {}, not ('storage', type, key, location, numel)", describe(pid)));
  const Value* type = pid->items[1];
  const Value* key = pid->items[2];
  const Value* location = pid->items[3];
  if (type->kind != Kind::global || type->text.rfind("torch ", 0) != 0)
    fail(fmt::format("storage type is {}, not a torch storage type", describe(type)));
  if (key->kind != Kind::string) fail(fmt::format("storage key is {}, not a string", describe(key)));
  if (location->kind != Kind::string) fail(fmt::format("storage location is {}, not a string", describe(location)));
  const int64_t numel = integer(pid->items[4], "storage size");
  if (numel < 0) fail(fmt::format("storage '{}' has negative size {}", key->text, numel));
  at::ScalarType dtype = at::kFloat;
  for (const auto& s : kStorageTypes)
    if (type->text == std::string("torch ") + s.name) dtype = s.dtype;

  const auto it = storages_.find(key->text);
  if (it != storages_.end()) {
    const Value* s = it->second;
    if (s->tensor.scalar_type() != dtype || s->tensor.numel() != numel)
      fail(fmt::format("storage '{}' is referenced with two different types or sizes", key->text));
    return it->second;
  }
  Value* s = make(Kind::storage);
  s->text = key->text;
  s->tensor = load_(key->text, dtype, static_cast<uint64_t>(numel));
  storages_.emplace(key->text, s);
  return s;
}

Unpickler::Value* Unpickler::rebuild_tensor(const std::vector<Value*>& args) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (args.size() != 6 && args.size() != 7)
    fail(fmt::format("_rebuild_tensor_v2 takes 6 or 7 arguments, got {}", args.size()));
  const Value* storage = args[0];
  if (storage->kind != Kind::storage) fail(fmt::format("_rebuild_tensor_v2 storage is {}", describe(storage)));
  const int64_t offset = integer(args[1], "storage offset");
  if (args[2]->kind != Kind::tuple || args[3]->kind != Kind::tuple || args[2]->items.size() != args[3]->items.size())
    fail("_rebuild_tensor_v2 size and stride are not tuples of equal length");
  if (args[4]->kind != Kind::boolean) fail(fmt::format("requires_grad is {}, not a bool", describe(args[4])));
  if (args[5]->kind != Kind::dict || !args[5]->entries.empty()) fail("tensor has backward hooks");
  if (args.size() == 7 && !(args[6]->kind == Kind::none || (args[6]->kind == Kind::dict && args[6]->entries.empty())))
    fail("tensor carries metadata, which a state dict does not");

  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool empty = false;
  for (size_t d = 0; d < args[2]->items.size(); ++d) {
    sizes.push_back(integer(args[2]->items[d], "tensor size"));
    strides.push_back(integer(args[3]->items[d], "tensor stride"));
    if (sizes.back() < 0 || strides.back() < 0)
      fail(fmt::format("tensor size {} / stride {} is negative", sizes.back(), strides.back()));
    empty = empty || sizes.back() == 0;
  }
  const int64_t storage_numel = storage->tensor.numel();
  if (offset < 0 || offset > storage_numel) fail(fmt::format("storage offset {} is outside storage '{}' of {} elements", offset, storage->text, storage_numel));
  Value* t = make(Kind::tensor);
  t->storage_key = storage->text;
  if (empty) {
    t->tensor = at::empty(sizes, at::TensorOptions().dtype(storage->tensor.scalar_type()));
    return t;
  }
  // The last element addressed must lie inside the storage; computed in 128 bits so nothing overflows.
  __int128 last = offset;
  __int128 numel = 1;
  for (size_t d = 0; d < sizes.size(); ++d) {
    last += static_cast<__int128>(sizes[d] - 1) * strides[d];
    numel *= sizes[d];
    if (numel > std::numeric_limits<int64_t>::max() || last >= storage_numel)
      fail(fmt::format("tensor of size {} and stride {} at offset {} reads past storage '{}' of {} elements",
                       fmt::join(sizes, "x"), fmt::join(strides, ","), offset, storage->text, storage_numel));
  }
  if (last >= storage_numel) fail(fmt::format("tensor at offset {} reads past storage '{}' of {} elements", offset, storage->text, storage_numel));
  t->tensor = storage->tensor.as_strided(sizes, strides, offset);
  return t;
}

Unpickler::Value* Unpickler::reduce(Value* callable, Value* args) {
  if (callable->kind != Kind::global) fail(fmt::format("REDUCE calls {}, which is not callable", describe(callable)));
  if (args->kind != Kind::tuple) fail(fmt::format("REDUCE arguments are {}, not a tuple", describe(args)));
  if (callable->text == kOrderedDict) {
    if (!args->items.empty()) fail("OrderedDict() is called with arguments");
    return make(Kind::dict);
  }
  if (callable->text == kRebuildTensor) return rebuild_tensor(args->items);
  fail(fmt::format("refusing to call '{}'", callable->text));
}

TensorMap Unpickler::run() {
  bool stopped = false;
  while (!stopped) {
    op_pos_ = pos_;
    const unsigned char op = *take(1);
    switch (op) {
      case 0x80:  // PROTO
        if (*take(1) > 5) fail("unknown pickle protocol");
        break;
      case 'c': {  // GLOBAL
        std::string module = take_line();
        std::string name = take_line();
        stack_.push_back(global(module, name));
        break;
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case ')':  // EMPTY_TUPLE
        stack_.push_back(tuple({}));
        break;
      case 't':  // TUPLE
        stack_.push_back(tuple(pop_to_mark()));
        break;
      case 0x85:  // TUPLE1
      case 0x86:  // TUPLE2
      case 0x87: {  // TUPLE3
        std::vector<Value*> items(op - 0x84);
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        stack_.push_back(tuple(std::move(items)));
        break;
      }
      case '}':  // EMPTY_DICT
        stack_.push_back(make(Kind::dict));
        break;
      case 's': {  // SETITEM
        Value* value = pop();
        Value* key = pop();
        set_item(top(), key, value);
        break;
      }
      case 'u': {  // SETITEMS
        const auto items = pop_to_mark();
        if (items.size() % 2 != 0) fail("SETITEMS with an odd number of items");
        Value* dict = top();
        for (size_t i = 0; i < items.size(); i += 2) set_item(dict, items[i], items[i + 1]);
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 'b': {  // BUILD: the only state a state dict carries is OrderedDict's _metadata (module versions)
        Value* state = pop();
        const Value* target = top();
        if (target->kind != Kind::dict || state->kind != Kind::dict)
          fail(fmt::format("BUILD of {} with {} state is not part of a state dict", describe(target), describe(state)));
        break;
      }
      case 'Q':  // BINPERSID
        stack_.push_back(persistent_load(pop()));
        break;
      case 'X': {  // BINUNICODE
        const uint32_t n = load_le32(take(4));
        if (n > kMaxStringBytes) fail(fmt::format("{}-byte string is too long for a state dict", n));
        Value* s = make(Kind::string);
        s->text.assign(reinterpret_cast<const char*>(take(n)), n);
        if (utf8::find_invalid(s->text) != s->text.size()) fail("string is not valid UTF-8");
        stack_.push_back(s);
        break;
      }
      case 'J':  // BININT
        stack_.push_back(make_int(static_cast<int32_t>(load_le32(take(4)))));
        break;
      case 'K':  // BININT1
        stack_.push_back(make_int(*take(1)));
        break;
      case 'M':  // BININT2
        stack_.push_back(make_int(load_le16(take(2))));
        break;
      case 0x8a: {  // LONG1
        const unsigned n = *take(1);
        if (n > 8) fail(fmt::format("{}-byte integer is too large", n));
        const unsigned char* p = take(n);
        uint64_t v = 0;
        for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
        if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
        stack_.push_back(make_int(static_cast<int64_t>(v)));
        break;
      }
      case 'N':  // NONE
        stack_.push_back(make(Kind::none));
        break;
      case 0x88:  // NEWTRUE
      case 0x89: {  // NEWFALSE
        Value* b = make(Kind::boolean);
        b->integer = op == 0x88;
        stack_.push_back(b);
        break;
      }
      case 'q':  // BINPUT
        memo_[*take(1)] = top();
        break;
      case 'r':  // LONG_BINPUT
        memo_[load_le32(take(4))] = top();
        break;
      case 'h':  // BINGET
      case 'j': {  // LONG_BINGET
        const uint32_t id = op == 'h' ? *take(1) : load_le32(take(4));
        const auto it = memo_.find(id);
        if (it == memo_.end()) fail(fmt::format("memo entry {} was never stored", id));
        stack_.push_back(it->second);
        break;
      }
      case '.':  // STOP
        stopped = true;
        break;
      default:
        fail(fmt::format("refusing pickle opcode 0x{:02x} ('{}'): not used by a state dict", op,
                         op >= 0x20 && op < 0x7f ? std::string(1, static_cast<char>(op)) : std::string("?")));
    }
  }
  if (!marks_.empty() || stack_.size() != 1) fail("pickle leaves more than one value behind");
  if (pos_ != data_.size()) fail(fmt::format("{} bytes after STOP", data_.size() - pos_));
  return to_state_dict(stack_.back());
}

TensorMap Unpickler::to_state_dict(Value* root) {
  if (root->kind != Kind::dict) fail(fmt::format("the pickle holds a {}, not a state dict", describe(root)));
  std::map<std::string, int> uses;
  for (const auto& [key, value] : root->entries)
    if (value->kind == Kind::tensor) ++uses[value->storage_key];
  TensorMap tensors;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Kind::string) fail(fmt::format("state dict key {} is not a string", describe(key)));
    if (value->kind != Kind::tensor) {
      fail(fmt::format("state dict entry '{}' is a {}, not a tensor (a full training checkpoint rather than a "
                       "model's state dict?)",
                       key->text, kind_name(value->kind)));
    }
    const at::Tensor& t = value->tensor;
    const bool whole = t.is_contiguous() && t.storage_offset() == 0 &&
                       t.numel() == storages_.at(value->storage_key)->tensor.numel() && uses[value->storage_key] == 1;
    tensors.emplace(key->text, whole ? t : t.clone(at::MemoryFormat::Contiguous));
  }
  return tensors;
}

}  // namespace

TensorMap unpickle_state_dict(const std::string& pickle, const std::string& where, const StorageLoader& load) {
  return Unpickler(pickle, where, load).run();
}

}  // namespace electra
