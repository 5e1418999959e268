#include "core/checkpoint/torch_checkpoint.h"

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <variant>

#include <torch/script.h>
#include <torch/torch.h>

#include "core/atomic_file.h"
#include "core/input_error.h"
#include "core/sha256.h"

namespace avqa::checkpoint {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void bad(const fs::path& path, const std::string& what) {
  throw core::InputError({path.string(), std::nullopt, ""}, what);
}

std::uint32_t le32(const std::string& b, std::size_t at) {
  return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 2])) << 16 |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 3])) << 24;
}
std::uint16_t le16(const std::string& b, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(b[at]) |
                                    static_cast<unsigned char>(b[at + 1]) << 8);
}

// ---- ZIP (stored entries, as torch.save writes them) ---------------------------------------

struct ZipEntry {
  std::size_t offset = 0;  // of the data
  std::size_t size = 0;
};

// Every entry checked to lie inside the file. Tensor records must be stored (torch.save never
// compresses); TorchScript archives compress their code/ records, which only LibTorch reads.
std::map<std::string, ZipEntry> read_zip_directory(const fs::path& path,
                                                   const std::string& bytes,
                                                   bool allow_compressed = false) {
  if (bytes.size() < 22) bad(path, "too short to be a torch.save file");
  std::size_t eocd = std::string::npos;
  for (std::size_t i = bytes.size() - 22 + 1; i-- > 0 && bytes.size() - i <= 22 + 65535;) {
    if (le32(bytes, i) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) {
    bad(path,
        "neither a zip archive (torch.save since PyTorch 1.6, TorchScript) nor a legacy "
        "torch.save file");
  }
  const std::size_t entries = le16(bytes, eocd + 10);
  std::size_t at = le32(bytes, eocd + 16);
  std::map<std::string, ZipEntry> out;
  for (std::size_t e = 0; e < entries; ++e) {
    if (at + 46 > bytes.size() || le32(bytes, at) != 0x02014b50)
      bad(path, "damaged zip central directory");
    const std::uint16_t method = le16(bytes, at + 10);
    const std::size_t compressed = le32(bytes, at + 20);
    const std::size_t name_len = le16(bytes, at + 28);
    const std::size_t extra_len = le16(bytes, at + 30);
    const std::size_t comment_len = le16(bytes, at + 32);
    const std::size_t local = le32(bytes, at + 42);
    const std::string name = bytes.substr(at + 46, name_len);
    if (method != 0 && !(allow_compressed && method == 8))
      bad(path, "zip entry " + name + " is compressed; torch.save stores entries uncompressed");
    if (compressed == 0xFFFFFFFF || local == 0xFFFFFFFF)
      bad(path, "zip64 archives (over 4 GB) are not supported");
    if (local + 30 > bytes.size() || le32(bytes, local) != 0x04034b50)
      bad(path, "damaged zip entry " + name);
    const std::size_t data = local + 30 + le16(bytes, local + 26) + le16(bytes, local + 28);
    if (data + compressed > bytes.size())
      bad(path, "zip entry " + name + " runs past the end of the file (truncated?)");
    out[name] = {data, compressed};
    at += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

// ---- the pickle machine ----------------------------------------------------------------------

struct Value;
using ValuePtr = std::shared_ptr<Value>;
struct Global {
  std::string module, name;
};
struct Storage {
  c10::ScalarType dtype;
  std::string key;
  std::int64_t numel;
};
struct Mark {};
struct None {};
struct Dict {
  std::vector<std::pair<ValuePtr, ValuePtr>> items;
};
struct Value {
  std::variant<None,
               bool,
               std::int64_t,
               double,
               std::string,
               std::vector<ValuePtr>,
               Dict,
               Global,
               Storage,
               torch::Tensor,
               Mark>
      v;
  bool is_list = false;  // a vector is a tuple unless this is set
};

ValuePtr make(decltype(Value::v) v) {
  auto p = std::make_shared<Value>();
  p->v = std::move(v);
  return p;
}

c10::ScalarType storage_dtype(const fs::path& path, const std::string& name) {
  static const std::map<std::string, c10::ScalarType> kTypes = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64},
      {"HalfStorage", torch::kFloat16},  {"BFloat16Storage", torch::kBFloat16},
      {"LongStorage", torch::kInt64},    {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},   {"CharStorage", torch::kInt8},
      {"ByteStorage", torch::kUInt8},    {"BoolStorage", torch::kBool}};
  const auto it = kTypes.find(name);
  if (it == kTypes.end()) bad(path, "unsupported storage type torch." + name);
  return it->second;
}

class Unpickler {
 public:
  /// `storages`: where each storage key's bytes lie in `bytes`. With `placeholders`, tensors
  /// are not read (the legacy format stores them after the pickle): the pass only finds where
  /// the pickle ends and which storages it names.
  Unpickler(const fs::path& path,
            const std::string& bytes,
            std::size_t begin,
            std::size_t end,
            const std::map<std::string, ZipEntry>& storages,
            bool placeholders = false)
      : path_(path),
        bytes_(bytes),
        pos_(begin),
        end_(end),
        storages_(storages),
        placeholders_(placeholders) {}

  /// Where the pickle stopped (after `run`).
  std::size_t position() const { return pos_; }
  /// The storages the pickle named: key -> element type and count.
  const std::map<std::string, Storage>& storages_seen() const { return seen_; }

  ValuePtr run() {
    while (true) {
      const int op = byte();
      switch (op) {
        case 0x80:
          byte();
          break;  // PROTO
        case 0x95:
          pos_ += 8;
          break;  // FRAME
        case '.':
          return pop();  // STOP
        case '(':
          stack_.push_back(make(Mark{}));
          break;  // MARK
        case ')':
          stack_.push_back(make(std::vector<ValuePtr>{}));
          break;
        case ']': {
          auto list = make(std::vector<ValuePtr>{});
          list->is_list = true;
          stack_.push_back(list);
          break;
        }
        case '}':
          stack_.push_back(make(Dict{}));
          break;
        case 'N':
          stack_.push_back(make(None{}));
          break;
        case 0x88:
          stack_.push_back(make(true));
          break;
        case 0x89:
          stack_.push_back(make(false));
          break;
        case 'K':
          stack_.push_back(make(static_cast<std::int64_t>(byte())));
          break;
        case 'M':
          stack_.push_back(make(static_cast<std::int64_t>(unsigned_le(2))));
          break;
        case 'J':
          stack_.push_back(
              make(static_cast<std::int64_t>(static_cast<std::int32_t>(unsigned_le(4)))));
          break;
        case 0x8a: {  // LONG1
          const int n = byte();
          std::int64_t v = 0;
          if (n > 8) fail("integer too large");
          for (int i = 0; i < n; ++i)
            v |= static_cast<std::int64_t>(byte()) << (8 * i);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v -= std::int64_t{1} << (8 * n);  // sign
          stack_.push_back(make(v));
          break;
        }
        case 'G': {
          std::uint64_t bits = 0;
          for (int i = 0; i < 8; ++i)
            bits = bits << 8 | static_cast<std::uint64_t>(byte());
          double d;
          std::memcpy(&d, &bits, 8);
          stack_.push_back(make(d));
          break;
        }
        case 'X':
          stack_.push_back(make(text(unsigned_le(4))));
          break;
        case 0x8c:
          stack_.push_back(make(text(static_cast<std::size_t>(byte()))));
          break;
        case 'T':
          stack_.push_back(make(text(unsigned_le(4))));
          break;
        case 'U':
          stack_.push_back(make(text(static_cast<std::size_t>(byte()))));
          break;
        case 'c': {
          std::string module = line();
          std::string name = line();
          stack_.push_back(make(Global{module, name}));
          break;
        }
        case 'q':
          memo_[static_cast<std::uint32_t>(byte())] = top();
          break;
        case 'r':
          memo_[static_cast<std::uint32_t>(unsigned_le(4))] = top();
          break;
        case 0x94:
          memo_[static_cast<std::uint32_t>(memo_.size())] = top();
          break;  // MEMOIZE
        case 'h':
          stack_.push_back(memo(byte()));
          break;
        case 'j':
          stack_.push_back(memo(static_cast<std::uint32_t>(unsigned_le(4))));
          break;
        case 't':
          stack_.push_back(make(to_mark()));
          break;
        case 0x85:
          tuple(1);
          break;
        case 0x86:
          tuple(2);
          break;
        case 0x87:
          tuple(3);
          break;
        case 's': {
          auto value = pop();
          auto key = pop();
          as_dict(top()).items.emplace_back(key, value);
          break;
        }
        case 'u': {
          auto items = to_mark();
          if (items.size() % 2) fail("odd SETITEMS");
          Dict& d = as_dict(top());
          for (std::size_t i = 0; i < items.size(); i += 2)
            d.items.emplace_back(items[i], items[i + 1]);
          break;
        }
        case 'a': {
          auto value = pop();
          list_of(top()).push_back(value);
          break;
        }
        case 'e': {
          auto items = to_mark();
          auto& list = list_of(top());
          list.insert(list.end(), items.begin(), items.end());
          break;
        }
        case 'b':
          pop();
          break;  // BUILD: OrderedDict state (`_metadata`), not needed
        case 'Q':
          stack_.push_back(persistent(pop()));
          break;
        case 'R': {
          auto args = pop();
          auto callable = pop();
          stack_.push_back(reduce(callable, args));
          break;
        }
        default:
          fail("pickle opcode " + std::to_string(op) +
               " is not one a state-dict uses; refusing the file");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    bad(path_, "data.pkl at byte " + std::to_string(pos_) + ": " + what);
  }
  int byte() {
    if (pos_ >= end_) fail("truncated pickle");
    return static_cast<unsigned char>(bytes_[pos_++]);
  }
  std::uint64_t unsigned_le(int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i)
      v |= static_cast<std::uint64_t>(byte()) << (8 * i);
    return v;
  }
  std::string text(std::size_t n) {
    if (pos_ + n > end_) fail("truncated string");
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string line() {
    const std::size_t nl = bytes_.find('\n', pos_);
    if (nl == std::string::npos || nl >= end_) fail("truncated GLOBAL");
    std::string s = bytes_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }
  ValuePtr pop() {
    if (stack_.empty()) fail("pickle stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  ValuePtr memo(std::uint32_t k) {
    const auto it = memo_.find(k);
    if (it == memo_.end()) fail("unknown memo entry " + std::to_string(k));
    return it->second;
  }
  std::vector<ValuePtr> to_mark() {
    std::vector<ValuePtr> items;
    while (true) {
      auto v = pop();
      if (std::holds_alternative<Mark>(v->v)) break;
      items.push_back(v);
    }
    std::reverse(items.begin(), items.end());
    return items;
  }
  void tuple(int n) {
    std::vector<ValuePtr> items(static_cast<std::size_t>(n));
    for (int i = n - 1; i >= 0; --i)
      items[static_cast<std::size_t>(i)] = pop();
    stack_.push_back(make(items));
  }
  Dict& as_dict(const ValuePtr& v) {
    if (!std::holds_alternative<Dict>(v->v)) fail("SETITEM on something that is not a dict");
    return std::get<Dict>(v->v);
  }
  std::vector<ValuePtr>& list_of(const ValuePtr& v) {
    if (!std::holds_alternative<std::vector<ValuePtr>>(v->v) || !v->is_list)
      fail("APPEND on something that is not a list");
    return std::get<std::vector<ValuePtr>>(v->v);
  }
  const std::vector<ValuePtr>& tuple_of(const ValuePtr& v, const char* what) {
    if (!std::holds_alternative<std::vector<ValuePtr>>(v->v))
      fail(std::string(what) + " is not a tuple");
    return std::get<std::vector<ValuePtr>>(v->v);
  }
  std::int64_t integer(const ValuePtr& v, const char* what) {
    if (!std::holds_alternative<std::int64_t>(v->v)) fail(std::string(what) + " is not an integer");
    return std::get<std::int64_t>(v->v);
  }
  std::vector<std::int64_t> integers(const ValuePtr& v, const char* what) {
    std::vector<std::int64_t> out;
    for (const auto& x : tuple_of(v, what))
      out.push_back(integer(x, what));
    return out;
  }

  // ('storage', torch.FloatStorage, key, location, numel)
  ValuePtr persistent(const ValuePtr& id) {
    const auto& t = tuple_of(id, "persistent id");
    // The legacy format adds a sixth element, the view metadata (None for state-dicts).
    if ((t.size() != 5 && t.size() != 6) || !std::holds_alternative<std::string>(t[0]->v) ||
        std::get<std::string>(t[0]->v) != "storage" || !std::holds_alternative<Global>(t[1]->v) ||
        !std::holds_alternative<std::string>(t[2]->v)) {
      fail("unexpected persistent id (not a tensor storage)");
    }
    const Global& g = std::get<Global>(t[1]->v);
    if (g.module != "torch") fail("storage type " + g.module + "." + g.name + " refused");
    Storage storage{storage_dtype(path_, g.name), std::get<std::string>(t[2]->v),
                    integer(t[4], "storage size")};
    if (storage.numel < 0) fail("negative storage size");
    seen_[storage.key] = storage;
    return make(storage);
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) {
    if (!std::holds_alternative<Global>(callable->v))
      fail("REDUCE of something that is not a known global");
    const Global& g = std::get<Global>(callable->v);
    const std::string name = g.module + "." + g.name;
    if (name == "collections.OrderedDict") return make(Dict{});
    if (name == "torch.jit._pickle.restore_type_tag") {  // LibTorch's typed dicts (pickle_save)
      const auto& a = tuple_of(args, "restore_type_tag arguments");
      if (a.empty()) fail("malformed restore_type_tag call");
      return a[0];
    }
    if (name == "torch._utils._rebuild_tensor_v2") {
      const auto& a = tuple_of(args, "_rebuild_tensor_v2 arguments");
      if (a.size() < 4 || !std::holds_alternative<Storage>(a[0]->v))
        fail("malformed _rebuild_tensor_v2 call");
      return make(tensor_from(std::get<Storage>(a[0]->v), integer(a[1], "storage offset"),
                              integers(a[2], "size"), integers(a[3], "stride")));
    }
    if (name == "torch._utils._rebuild_parameter") {
      const auto& a = tuple_of(args, "_rebuild_parameter arguments");
      if (a.empty() || !std::holds_alternative<torch::Tensor>(a[0]->v))
        fail("malformed _rebuild_parameter call");
      return a[0];
    }
    fail("global " + name + " is not allowed in a state-dict; refusing to run it");
  }

  torch::Tensor tensor_from(const Storage& s,
                            std::int64_t offset,
                            const std::vector<std::int64_t>& size,
                            const std::vector<std::int64_t>& stride) {
    if (placeholders_) return {};
    const auto it = storages_.find(s.key);
    if (it == storages_.end()) fail("storage " + s.key + " is missing from the file");
    const std::size_t element = c10::elementSize(s.dtype);
    if (it->second.size < static_cast<std::size_t>(s.numel) * element)
      fail("storage " + s.key + " is truncated");
    auto storage = torch::empty({s.numel}, torch::TensorOptions().dtype(s.dtype));
    if (s.numel > 0) {  // an empty tensor has no data pointer to copy into
      std::memcpy(storage.data_ptr(), bytes_.data() + it->second.offset,
                  static_cast<std::size_t>(s.numel) * element);
    }
    std::int64_t last = offset;
    for (std::size_t d = 0; d < size.size(); ++d)
      last += (size[d] - 1) * stride[d];
    if (size.size() != stride.size() || offset < 0 || (s.numel > 0 && last >= s.numel)) {
      fail("tensor view outside its storage " + s.key);
    }
    return storage.as_strided(size, stride, offset).clone();
  }

  const fs::path& path_;
  const std::string& bytes_;
  std::size_t pos_;
  std::size_t end_;
  const std::map<std::string, ZipEntry>& storages_;
  bool placeholders_;
  std::map<std::string, Storage> seen_;
  std::vector<ValuePtr> stack_;
  std::map<std::uint32_t, ValuePtr> memo_;
};

// ---- writing ---------------------------------------------------------------------------------

std::uint32_t crc32(const char* data, std::size_t n) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i)
    c = table[(c ^ static_cast<unsigned char>(data[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put16(std::string& o, std::uint32_t v) {
  o += static_cast<char>(v & 0xFF);
  o += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& o, std::uint32_t v) {
  put16(o, v & 0xFFFF);
  put16(o, v >> 16);
}

class ZipWriter {
 public:
  void add(const std::string& name, const std::string& data) {
    // torch.save aligns every record's data to 64 bytes with padding in the extra field.
    const std::size_t header = out_.size();
    const std::size_t unpadded = header + 30 + name.size() + 4;
    const std::size_t pad = (64 - unpadded % 64) % 64;
    const std::uint32_t crc = crc32(data.data(), data.size());
    put32(out_, 0x04034b50);
    put16(out_, 20);
    put16(out_, 0);
    put16(out_, 0);  // stored
    put16(out_, 0);
    put16(out_, 0);
    put32(out_, crc);
    put32(out_, static_cast<std::uint32_t>(data.size()));
    put32(out_, static_cast<std::uint32_t>(data.size()));
    put16(out_, static_cast<std::uint32_t>(name.size()));
    put16(out_, static_cast<std::uint32_t>(4 + pad));
    out_ += name;
    put16(out_, 0x4650);  // 'FP' padding record, as PyTorch writes it
    put16(out_, static_cast<std::uint32_t>(pad));
    out_.append(pad, 'Z');
    out_ += data;
    entries_.push_back({name, crc, data.size(), header, 4 + pad});
  }
  std::string finish() {
    const std::size_t directory = out_.size();
    for (const auto& e : entries_) {
      put32(out_, 0x02014b50);
      put16(out_, 20);  // made by
      put16(out_, 20);  // needed
      put16(out_, 0);   // flags
      put16(out_, 0);   // stored
      put16(out_, 0);   // time
      put16(out_, 0);   // date
      put32(out_, e.crc);
      put32(out_, static_cast<std::uint32_t>(e.size));
      put32(out_, static_cast<std::uint32_t>(e.size));
      put16(out_, static_cast<std::uint32_t>(e.name.size()));
      put16(out_, 0);
      put16(out_, 0);
      put16(out_, 0);
      put16(out_, 0);
      put32(out_, 0);
      put32(out_, static_cast<std::uint32_t>(e.header));
      out_ += e.name;
    }
    const std::size_t directory_size = out_.size() - directory;
    put32(out_, 0x06054b50);
    put16(out_, 0);
    put16(out_, 0);
    put16(out_, static_cast<std::uint32_t>(entries_.size()));
    put16(out_, static_cast<std::uint32_t>(entries_.size()));
    put32(out_, static_cast<std::uint32_t>(directory_size));
    put32(out_, static_cast<std::uint32_t>(directory));
    put16(out_, 0);
    return std::move(out_);
  }

 private:
  struct Entry {
    std::string name;
    std::uint32_t crc;
    std::size_t size;
    std::size_t header;
    std::size_t extra;
  };
  std::string out_;
  std::vector<Entry> entries_;
};

std::string storage_name(c10::ScalarType t) {
  switch (t) {
    case torch::kFloat32:
      return "FloatStorage";
    case torch::kFloat64:
      return "DoubleStorage";
    case torch::kFloat16:
      return "HalfStorage";
    case torch::kBFloat16:
      return "BFloat16Storage";
    case torch::kInt64:
      return "LongStorage";
    case torch::kInt32:
      return "IntStorage";
    case torch::kInt16:
      return "ShortStorage";
    case torch::kInt8:
      return "CharStorage";
    case torch::kUInt8:
      return "ByteStorage";
    case torch::kBool:
      return "BoolStorage";
    default:
      throw std::invalid_argument("cannot save tensors of type " + std::string(c10::toString(t)));
  }
}

void pickle_string(std::string& o, const std::string& s) {
  o += 'X';
  put32(o, static_cast<std::uint32_t>(s.size()));
  o += s;
}
void pickle_int(std::string& o, std::int64_t v) {
  if (v >= 0 && v < 256) {
    o += 'K';
    o += static_cast<char>(v);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    o += 'J';
    put32(o, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)));
  } else {
    o += '\x8a';
    o += '\x08';
    for (int i = 0; i < 8; ++i)
      o += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xFF);
  }
}
void pickle_ints(std::string& o, const c10::IntArrayRef values) {
  o += '(';
  for (const auto v : values)
    pickle_int(o, v);
  o += 't';
}

// One read of the whole file: weights run to hundreds of MB (VGGish's are 290 MB), and a stream
// iterator's byte-by-byte copy made reading them most of the time a run took to open.
std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) bad(path, "cannot open the file");
  const std::streamoff size = in.tellg();
  if (size < 0) bad(path, "cannot tell the file's size");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  if (!in.read(bytes.data(), size)) bad(path, "cannot read the file");
  return bytes;
}

bool has_torchscript_records(const std::map<std::string, ZipEntry>& zip) {
  bool constants = false, code = false;
  for (const auto& [name, entry] : zip) {
    const auto slash = name.find('/');
    const std::string inner = slash == std::string::npos ? name : name.substr(slash + 1);
    constants = constants || inner == "constants.pkl";
    code = code || inner.rfind("code/", 0) == 0;
  }
  return constants && code;
}

}  // namespace

namespace {

NamedTensors named_tensors(const fs::path& path, const ValuePtr& root) {
  if (!std::holds_alternative<Dict>(root->v))
    bad(path, "the checkpoint is not a dict of tensors (a whole pickled model?)");
  NamedTensors out;
  for (const auto& [key, value] : std::get<Dict>(root->v).items) {
    if (!std::holds_alternative<std::string>(key->v)) bad(path, "a state-dict key is not a string");
    const std::string& name = std::get<std::string>(key->v);
    if (!std::holds_alternative<torch::Tensor>(value->v))
      bad(path, "entry '" + name + "' is not a tensor");
    out.emplace_back(name, std::get<torch::Tensor>(value->v));
  }
  return out;
}

// What torch.save wrote before PyTorch 1.6 (and with _use_new_zipfile_serialization=False):
// five pickles in a row (magic number, protocol, system info, the object, its storage keys),
// then each storage as an 8-byte element count and its raw little-endian elements.
constexpr char kLegacyMagic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e";
constexpr std::size_t kLegacyMagicSize = sizeof kLegacyMagic - 1;

bool is_legacy_file(const std::string& bytes) {
  return bytes.compare(0, kLegacyMagicSize, kLegacyMagic, kLegacyMagicSize) == 0;
}

NamedTensors read_legacy_state_dict(const fs::path& path, const std::string& bytes) {
  const std::map<std::string, ZipEntry> none;
  std::size_t at = kLegacyMagicSize;
  auto next = [&](const std::map<std::string, ZipEntry>& storages, bool placeholders) {
    Unpickler u(path, bytes, at, bytes.size(), storages, placeholders);
    ValuePtr v = u.run();
    return std::pair{v, std::move(u)};
  };
  {
    auto [protocol, u] = next(none, true);
    if (!std::holds_alternative<std::int64_t>(protocol->v) ||
        std::get<std::int64_t>(protocol->v) != 1001)
      bad(path, "legacy torch.save file of an unknown protocol version");
    at = u.position();
  }
  {
    auto [info, u] = next(none, true);
    if (std::holds_alternative<Dict>(info->v)) {
      for (const auto& [key, value] : std::get<Dict>(info->v).items) {
        if (std::holds_alternative<std::string>(key->v) &&
            std::get<std::string>(key->v) == "little_endian" &&
            std::holds_alternative<bool>(value->v) && !std::get<bool>(value->v))
          bad(path, "saved on a big-endian machine; re-save it on a little-endian one");
      }
    }
    at = u.position();
  }
  const std::size_t object_at = at;
  std::map<std::string, Storage> named;
  {
    auto [object, u] = next(none, true);  // a first pass: where the object ends, its storages
    named = u.storages_seen();
    at = u.position();
  }
  std::vector<std::string> keys;
  {
    auto [list, u] = next(none, true);
    if (!std::holds_alternative<std::vector<ValuePtr>>(list->v))
      bad(path, "legacy torch.save file without its list of storage keys");
    for (const auto& k : std::get<std::vector<ValuePtr>>(list->v)) {
      if (!std::holds_alternative<std::string>(k->v)) bad(path, "a storage key is not a string");
      keys.push_back(std::get<std::string>(k->v));
    }
    at = u.position();
  }
  std::map<std::string, ZipEntry> storages;
  for (const std::string& key : keys) {
    const auto it = named.find(key);
    if (it == named.end()) bad(path, "storage " + key + " is listed but never used");
    if (at + 8 > bytes.size()) bad(path, "storage " + key + " is cut off (truncated file?)");
    std::uint64_t count = 0;
    for (int i = 7; i >= 0; --i)
      count = count << 8 | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
    at += 8;
    const std::size_t size = static_cast<std::size_t>(count) * c10::elementSize(it->second.dtype);
    if (count != static_cast<std::uint64_t>(it->second.numel) || at + size > bytes.size())
      bad(path, "storage " + key + " is cut off or of another size than its tensors say");
    storages[key] = {at, size};
    at += size;
  }
  at = object_at;
  auto [root, u] = next(storages, false);
  return named_tensors(path, root);
}

}  // namespace

namespace {

NamedTensors state_dict_of(const fs::path& path, const std::string& bytes) {
  if (is_legacy_file(bytes)) return read_legacy_state_dict(path, bytes);
  const auto zip = read_zip_directory(path, bytes);
  std::string pickle_name;
  for (const auto& [name, entry] : zip) {
    if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0 &&
        (name.size() == 8 || name[name.size() - 9] == '/')) {
      pickle_name = name;
    }
  }
  if (pickle_name.empty()) bad(path, "no data.pkl record: not a torch.save archive");
  const std::string prefix = pickle_name.substr(0, pickle_name.size() - 8);
  std::map<std::string, ZipEntry> storages;  // storage key -> its <archive>/data/<key> record
  for (const auto& [name, entry] : zip) {
    if (name.rfind(prefix + "data/", 0) == 0) storages[name.substr(prefix.size() + 5)] = entry;
  }
  const ZipEntry pickle = zip.at(pickle_name);
  Unpickler unpickler(path, bytes, pickle.offset, pickle.offset + pickle.size, storages);
  return named_tensors(path, unpickler.run());
}

}  // namespace

NamedTensors read_torch_state_dict(const fs::path& path) {
  return state_dict_of(path, read_bytes(path));
}

void write_torch_state_dict(const fs::path& path, const NamedTensors& tensors) {
  const std::string archive = path.stem().string().empty() ? "archive" : path.stem().string();
  ZipWriter zip;
  std::string p = "\x80\x02";
  p += "ccollections\nOrderedDict\n)R(";
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto t = tensors[i].second.detach().contiguous().cpu();
    pickle_string(p, tensors[i].first);
    p += "ctorch._utils\n_rebuild_tensor_v2\n(";
    p += "(";
    pickle_string(p, "storage");
    p += "ctorch\n" + storage_name(t.scalar_type()) + "\n";
    pickle_string(p, std::to_string(i));
    pickle_string(p, "cpu");
    pickle_int(p, t.numel());
    p += "tQ";
    pickle_int(p, 0);
    pickle_ints(p, t.sizes());
    pickle_ints(p, t.strides());
    p += '\x89';                           // requires_grad False
    p += "ccollections\nOrderedDict\n)R";  // backward hooks
    p += "tR";
  }
  p += "u.";
  zip.add(archive + "/data.pkl", p);
  zip.add(archive + "/byteorder", "little");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto t = tensors[i].second.detach().contiguous().cpu();
    zip.add(archive + "/data/" + std::to_string(i),
            std::string(static_cast<const char*>(t.data_ptr()),
                        static_cast<std::size_t>(t.numel()) * t.element_size()));
  }
  zip.add(archive + "/version", "3\n");
  core::write_file_atomically(path, zip.finish());
}

void require_sound_archive(const fs::path& path) {
  (void)read_zip_directory(path, read_bytes(path), /*allow_compressed=*/true);
}

bool is_torchscript_archive(const fs::path& path) {
  return has_torchscript_records(
      read_zip_directory(path, read_bytes(path), /*allow_compressed=*/true));
}

NamedTensors read_weights(const fs::path& path, std::string* sha256) {
  // One read serves the archive check, the parse and the hash: weights files are large.
  const std::string bytes = read_bytes(path);
  if (sha256 != nullptr) *sha256 = core::sha256_hex(bytes);
  const bool scripted_archive =
      !is_legacy_file(bytes) &&
      has_torchscript_records(read_zip_directory(path, bytes, /*allow_compressed=*/true));
  if (!scripted_archive) return state_dict_of(path, bytes);
  torch::jit::script::Module scripted;
  try {
    scripted = torch::jit::load(path.string());
  } catch (const c10::Error& e) {
    bad(path,
        std::string("a TorchScript archive LibTorch cannot load: ") + e.what_without_backtrace());
  }
  NamedTensors out;
  for (const auto& p : scripted.named_parameters(/*recurse=*/true))
    out.emplace_back(p.name, p.value);
  for (const auto& b : scripted.named_buffers(/*recurse=*/true))
    out.emplace_back(b.name, b.value);
  return out;
}

}  // namespace avqa::checkpoint
