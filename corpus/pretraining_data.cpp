#include "corpus/pretraining_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <cstdio>
#include <deque>
#include <exception>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "common/files.h"
#include "hub/sha256.h"
#include "tokenizer/tokenizer.h"

namespace electra {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kShardMagic[8] = {'E', 'L', 'E', 'C', 'S', 'H', 'R', 'D'};
constexpr uint32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 16;
constexpr const char* kManifestName = "shards.json";
constexpr const char* kManifestFormat = "electra-pretraining-shards";

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// An integer in [0, n) from a 64-bit generator (modulo: the bias is below 2^-40 for the sizes used here).
uint64_t below(std::mt19937_64& rng, uint64_t n) { return rng() % n; }

void put_u16(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u16(const unsigned char* p) { return p[0] | (p[1] << 8); }
uint32_t get_u32(const unsigned char* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

// Length in bytes of the UTF-8 sequence of a sentence terminator at `s[i]`, or 0.
size_t terminator_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == '.' || c == '!' || c == '?') return 1;
  if (i + 3 <= s.size()) {
    const std::string_view t(s.data() + i, 3);
    if (t == "\xE2\x80\xA6" || t == "\xE3\x80\x82" || t == "\xEF\xBC\x81" || t == "\xEF\xBC\x9F") return 3;
  }
  return 0;
}

// Closing quotes and brackets that stay with the sentence they end.
size_t closer_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == '"' || c == '\'' || c == ')' || c == ']' || c == '}') return 1;
  static const char* const closers[] = {"\xE2\x80\x9D", "\xE2\x80\x99", "\xC2\xBB", "\xE3\x80\x8D", "\xE3\x80\x8F",
                                        "\xEF\xBC\x89", "\xE3\x80\x91", "\xE3\x80\x89", "\xE3\x80\x8B", "\xEF\xBC\xBD"};
  for (const char* closer : closers) {
    const size_t n = std::char_traits<char>::length(closer);
    if (s.compare(i, n, closer) == 0) return n;
  }
  return 0;
}

// Length of the whitespace character at `s[i]` (ASCII, no-break space, ideographic space), or 0.
size_t space_at(const std::string& s, size_t i) {
  const unsigned char c = s[i];
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
  if (s.compare(i, 2, "\xC2\xA0") == 0) return 2;
  if (s.compare(i, 3, "\xE3\x80\x80") == 0) return 3;
  return 0;
}

void push_trimmed(std::vector<std::string>& out, const std::string& s, size_t begin, size_t end) {
  while (begin < end && space_at(s, begin)) begin += space_at(s, begin);
  // Trailing whitespace: only ASCII is trimmed from the end (multi-byte spaces are rare there and kept).
  while (end > begin && space_at(s, end - 1) == 1) --end;
  if (end > begin) out.emplace_back(s.substr(begin, end - begin));
}

bool blank(const std::string& line) {
  for (size_t i = 0; i < line.size();) {
    const size_t n = space_at(line, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// fsyncs a file or folder so that what was written survives a crash (best effort for folders).
void sync_path(const fs::path& path, bool must) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool ok = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!ok && must) throw std::runtime_error(fmt::format("cannot sync {} to disk", path.string()));
}

std::string where(const fs::path& file, int64_t line) { return fmt::format("{}, line {}", file.string(), line); }

// ---- prepared shards

struct ShardFile {
  fs::path path;
  int64_t examples = 0;
  uint64_t bytes = 0;
};

struct ShardManifest {
  fs::path dir;
  int64_t max_seq_length = 0;
  std::vector<ShardFile> shards;
};

ShardManifest read_manifest(const fs::path& dir, const Tokenizer& tokenizer, const CorpusOptions& options) {
  const fs::path file = dir / kManifestName;
  json manifest;
  try {
    manifest = json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
  }
  ShardManifest out;
  out.dir = dir;
  try {
    if (manifest.value("format", std::string()) != kManifestFormat)
      throw std::runtime_error(fmt::format("not a prepared corpus (\"format\" is not \"{}\")", kManifestFormat));
    const auto version = manifest.at("version").get<int64_t>();
    if (version != kShardVersion)
      throw std::runtime_error(fmt::format("format version {} (this build reads {})", version, kShardVersion));
    const auto vocab_size = manifest.at("vocab_size").get<int64_t>();
    const auto vocab_sha = manifest.at("vocab_sha256").get<std::string>();
    if (vocab_size != tokenizer.vocab_size() || vocab_sha != vocab_fingerprint(tokenizer))
      throw std::runtime_error(fmt::format(
          "prepared with another vocabulary ({} tokens, sha256 {}) than the model's ({} tokens, sha256 {}); "
          "prepare the corpus again with this vocabulary",
          vocab_size, vocab_sha, tokenizer.vocab_size(), vocab_fingerprint(tokenizer)));
    out.max_seq_length = manifest.at("max_seq_length").get<int64_t>();
    if (out.max_seq_length > options.max_seq_length)
      throw std::runtime_error(fmt::format("prepared for max_seq_length {}, longer than this run's {}",
                                           out.max_seq_length, options.max_seq_length));
    for (const json& shard : manifest.at("shards")) {
      ShardFile s;
      const auto name = shard.at("file").get<std::string>();
      if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        throw std::runtime_error(fmt::format("shard file name '{}' is not a plain name", name));
      s.path = dir / name;
      s.examples = shard.at("examples").get<int64_t>();
      s.bytes = shard.at("bytes").get<uint64_t>();
      out.shards.push_back(std::move(s));
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", file.string(), e.what()));
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("{}: {}", file.string(), e.what()));
  }
  // Each shard: present, the size shards.json recorded, the right header.
  for (const ShardFile& s : out.shards) {
    std::error_code ec;
    const auto size = fs::file_size(s.path, ec);
    if (ec) throw std::runtime_error(fmt::format("cannot read {}: {}", s.path.string(), ec.message()));
    if (size != s.bytes)
      throw std::runtime_error(fmt::format("{}: {} bytes, {} says {} (truncated or replaced; prepare the corpus again)",
                                           s.path.string(), size, file.string(), s.bytes));
    std::ifstream in(s.path, std::ios::binary);
    unsigned char header[kShardHeaderBytes];
    if (!in.read(reinterpret_cast<char*>(header), kShardHeaderBytes))
      throw std::runtime_error(fmt::format("{}: no shard header", s.path.string()));
    if (std::memcmp(header, kShardMagic, sizeof kShardMagic) != 0)
      throw std::runtime_error(fmt::format("{}: not a shard file (bad magic)", s.path.string()));
    if (get_u32(header + 8) != kShardVersion)
      throw std::runtime_error(
          fmt::format("{}: shard format version {} (expected {})", s.path.string(), get_u32(header + 8), kShardVersion));
    if (get_u32(header + 12) != static_cast<uint32_t>(out.max_seq_length))
      throw std::runtime_error(fmt::format("{}: max_seq_length {} in the header, {} in {}", s.path.string(),
                                           get_u32(header + 12), out.max_seq_length, file.string()));
  }
  return out;
}

// ---- example sources: a pull interface over text files and shards

// Text files, read line by line, split, tokenized and packed.
class TextSource {
 public:
  TextSource(const Tokenizer& tokenizer, const CorpusOptions& options, uint64_t seed)
      : tokenizer_(tokenizer),
        options_(options),
        builder_(options, static_cast<int32_t>(tokenizer.cls_id()), static_cast<int32_t>(tokenizer.sep_id()), seed),
        line_format_(options.document_format == "line") {}

  // Starts reading `file` (a previous one must be exhausted).
  void open(const fs::path& file) {
    file_ = file;
    line_number_ = 0;
    in_ = std::ifstream(file, std::ios::binary);
    if (!in_) throw std::runtime_error(fmt::format("cannot read {}", file.string()));
    open_ = true;
  }

  // The next example of the open file; false at its end. `stop` is polled between lines.
  bool next(PretrainingExample& out, const std::atomic<bool>* stop = nullptr) {
    while (true) {
      if (!ready_.empty()) {
        out = std::move(ready_.front());
        ready_.pop_front();
        return true;
      }
      if (!open_) return false;
      if (stop && stop->load(std::memory_order_relaxed)) return false;
      std::string line;
      if (!std::getline(in_, line)) {
        if (in_.bad()) throw std::runtime_error(fmt::format("cannot read {} after line {}", file_.string(), line_number_));
        open_ = false;
        end_document();  // a file ends its last document
        continue;
      }
      ++line_number_;
      ++lines_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      try {
        add_line(line);
      } catch (const std::exception& e) {
        throw std::runtime_error(fmt::format("{}: {}", where(file_, line_number_), e.what()));
      }
    }
  }

  int64_t lines() const { return lines_; }
  int64_t documents() const { return documents_; }

 private:
  void add_line(const std::string& line) {
    if (blank(line)) {
      if (!line_format_) end_document();  // "line" format: blank lines are skipped
      return;
    }
    in_document_ = true;
    if (options_.split_sentences) {
      for (const std::string& sentence : split_sentences(line)) add_sentence(sentence);
    } else {
      add_sentence(line);
    }
    if (line_format_) end_document();
  }

  void add_sentence(const std::string& text) {
    const std::vector<Token> tokens = tokenizer_.tokenize(text);
    ids_.clear();
    for (const Token& t : tokens) ids_.push_back(static_cast<int32_t>(t.id));
    PretrainingExample example;
    if (builder_.add_sentence(ids_, example)) ready_.push_back(std::move(example));
  }

  void end_document() {
    if (in_document_) ++documents_;
    in_document_ = false;
    PretrainingExample example;
    if (builder_.end_document(example)) ready_.push_back(std::move(example));
  }

  const Tokenizer& tokenizer_;
  const CorpusOptions& options_;
  ExampleBuilder builder_;
  bool line_format_;
  fs::path file_;
  std::ifstream in_;
  bool open_ = false, in_document_ = false;
  int64_t line_number_ = 0, lines_ = 0, documents_ = 0;
  std::vector<int32_t> ids_;
  std::deque<PretrainingExample> ready_;
};

// One shard file, read example by example.
class ShardReader {
 public:
  ShardReader(const ShardFile& shard, int64_t max_seq_length) : shard_(shard), max_(max_seq_length) {
    in_ = std::ifstream(shard.path, std::ios::binary);
    if (!in_) throw std::runtime_error(fmt::format("cannot read {}", shard.path.string()));
    in_.seekg(kShardHeaderBytes);
    offset_ = kShardHeaderBytes;
  }

  bool next(PretrainingExample& out) {
    unsigned char head[4];
    in_.read(reinterpret_cast<char*>(head), 4);
    if (in_.gcount() == 0 && in_.eof()) {
      if (count_ != shard_.examples)
        throw std::runtime_error(fmt::format("{}: {} examples, shards.json says {}", shard_.path.string(), count_,
                                             shard_.examples));
      return false;
    }
    if (in_.gcount() != 4) corrupt("truncated example header");
    const uint32_t length = get_u16(head), first = get_u16(head + 2);
    if (length < 2 || length > max_ || first < 2 || first > length)
      corrupt(fmt::format("example of length {} with first segment {} (max_seq_length {})", length, first, max_));
    buffer_.resize(4 * static_cast<size_t>(length));
    in_.read(reinterpret_cast<char*>(buffer_.data()), static_cast<std::streamsize>(buffer_.size()));
    if (static_cast<size_t>(in_.gcount()) != buffer_.size()) corrupt("truncated example");
    out.input_ids.resize(length);
    for (uint32_t i = 0; i < length; ++i) out.input_ids[i] = static_cast<int32_t>(get_u32(buffer_.data() + 4 * i));
    out.first_segment_length = static_cast<int32_t>(first);
    offset_ += 4 + buffer_.size();
    ++count_;
    return true;
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) const {
    throw std::runtime_error(
        fmt::format("{}: corrupt shard at byte {} (example {}): {}", shard_.path.string(), offset_, count_, what));
  }

  ShardFile shard_;
  int64_t max_;
  std::ifstream in_;
  std::vector<unsigned char> buffer_;
  uint64_t offset_ = 0;
  int64_t count_ = 0;
};

// What the constructor resolved options.files to: a text file, or a prepared folder's shards.
struct Input {
  fs::path text;  // empty for shards
  ShardManifest shards;
};

std::vector<Input> resolve_inputs(const Tokenizer& tokenizer, const CorpusOptions& options) {
  if (options.files.empty()) throw std::invalid_argument("no corpus files given");
  std::vector<Input> inputs;
  for (const fs::path& file : options.files) {
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (!fs::exists(status))
      throw std::runtime_error(fmt::format("cannot read {}: {}", file.string(),
                                           ec ? ec.message() : std::string("no such file or directory")));
    Input input;
    if (fs::is_directory(status)) {
      if (!is_shard_dir(file))
        throw std::runtime_error(fmt::format("cannot read {}: a folder, not a text file nor a prepared corpus (no {})",
                                             file.string(), kManifestName));
      input.shards = read_manifest(file, tokenizer, options);
    } else {
      std::ifstream probe(file, std::ios::binary);
      if (!probe) throw std::runtime_error(fmt::format("cannot read {}", file.string()));
      input.text = file;
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

}  // namespace

void validate(const CorpusOptions& options) {
  if (options.document_format != "blank_line" && options.document_format != "line")
    throw std::invalid_argument(
        fmt::format("unknown document_format '{}' (known: blank_line, line)", options.document_format));
  if (options.max_seq_length < 5 || options.max_seq_length > 65535)
    throw std::invalid_argument(fmt::format("max_seq_length must be in [5, 65535], got {}", options.max_seq_length));
  if (!(options.short_seq_prob >= 0 && options.short_seq_prob <= 1))
    throw std::invalid_argument(fmt::format("short_seq_prob must be in [0, 1], got {}", options.short_seq_prob));
  if (!(options.single_segment_prob >= 0 && options.single_segment_prob <= 1))
    throw std::invalid_argument(
        fmt::format("single_segment_prob must be in [0, 1], got {}", options.single_segment_prob));
  if (options.queue_capacity < 1)
    throw std::invalid_argument(fmt::format("queue_capacity must be at least 1, got {}", options.queue_capacity));
}

std::vector<std::string> split_sentences(const std::string& line) {
  std::vector<std::string> out;
  size_t begin = 0, i = 0;
  while (i < line.size()) {
    size_t n = terminator_at(line, i);
    if (n == 0) {
      ++i;
      continue;
    }
    size_t end = i;
    while (end < line.size() && (n = terminator_at(line, end)) != 0) end += n;  // "!!", "?!", "..", "…."
    while (end < line.size() && (n = closer_at(line, end)) != 0) end += n;
    if (end < line.size() && space_at(line, end)) {
      push_trimmed(out, line, begin, end);
      begin = end;
    }
    i = end;
  }
  push_trimmed(out, line, begin, line.size());
  return out;
}

uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  return splitmix64(splitmix64(seed) ^ splitmix64(static_cast<uint64_t>(epoch) + 0x5851f42d4c957f2dULL));
}

// ---- ExampleBuilder

ExampleBuilder::ExampleBuilder(const CorpusOptions& options, int32_t cls_id, int32_t sep_id, uint64_t seed)
    : max_length_(options.max_seq_length),
      target_length_(options.max_seq_length),
      short_seq_prob_(options.short_seq_prob),
      single_segment_prob_(options.single_segment_prob),
      cls_id_(cls_id),
      sep_id_(sep_id),
      rng_(seed) {
  validate(options);
}

double ExampleBuilder::uniform() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

bool ExampleBuilder::add_sentence(const std::vector<int32_t>& ids, PretrainingExample& out) {
  if (ids.empty()) return false;
  sentences_.push_back(ids);
  length_ += static_cast<int64_t>(ids.size());
  if (length_ < target_length_) return false;
  create_example(out);
  return true;
}

bool ExampleBuilder::end_document(PretrainingExample& out) {
  if (length_ == 0) return false;
  create_example(out);
  return true;
}

void ExampleBuilder::create_example(PretrainingExample& out) {
  const int64_t first_target = uniform() < single_segment_prob_ ? INT64_MAX : (target_length_ - 3) / 2;
  std::vector<int32_t> first, second;
  for (const std::vector<int32_t>& sentence : sentences_) {
    const auto a = static_cast<int64_t>(first.size());
    // To A when A is empty, when the sentence keeps A under its target, or (while B is empty and A is under its
    // target) with chance 1/2; otherwise to B. The draw happens only when the earlier conditions fail.
    const bool to_first = a == 0 || a + static_cast<int64_t>(sentence.size()) < first_target ||
                          (second.empty() && a < first_target && uniform() < 0.5);
    std::vector<int32_t>& segment = to_first ? first : second;
    segment.insert(segment.end(), sentence.begin(), sentence.end());
  }
  if (static_cast<int64_t>(first.size()) > max_length_ - 2) first.resize(max_length_ - 2);
  const int64_t second_max = std::max<int64_t>(0, max_length_ - static_cast<int64_t>(first.size()) - 3);
  if (static_cast<int64_t>(second.size()) > second_max) second.resize(second_max);

  sentences_.clear();
  length_ = 0;
  if (uniform() < short_seq_prob_) {
    target_length_ = 5 + static_cast<int64_t>(below(rng_, static_cast<uint64_t>(max_length_ - 5 + 1)));
  } else {
    target_length_ = max_length_;
  }

  out.input_ids.clear();
  out.input_ids.reserve(first.size() + second.size() + 3);
  out.input_ids.push_back(cls_id_);
  out.input_ids.insert(out.input_ids.end(), first.begin(), first.end());
  out.input_ids.push_back(sep_id_);
  out.first_segment_length = static_cast<int32_t>(out.input_ids.size());
  if (!second.empty()) {
    out.input_ids.insert(out.input_ids.end(), second.begin(), second.end());
    out.input_ids.push_back(sep_id_);
  }
}

// ---- PretrainingStream

struct PretrainingStream::State {
  const Tokenizer& tokenizer;
  CorpusOptions options;
  int64_t epoch;
  std::vector<Input> inputs;

  std::mutex mutex;
  std::condition_variable not_empty, not_full;
  std::deque<PretrainingExample> queue;
  bool finished = false;  // the producer is done (or failed: error)
  std::exception_ptr error;
  std::atomic<bool> stop{false};
  std::thread producer;

  int64_t produced = 0;
  double wait_seconds = 0;

  State(const Tokenizer& t, const CorpusOptions& o, int64_t e) : tokenizer(t), options(o), epoch(e) {}

  int64_t wake_batch() const { return std::min<int64_t>(64, options.queue_capacity); }

  // Hands one example to the consumer; false when the stream is being destroyed.
  bool push(PretrainingExample&& example) {
    std::unique_lock<std::mutex> lock(mutex);
    not_full.wait(lock, [&] {
      return stop.load() || static_cast<int64_t>(queue.size()) < options.queue_capacity;
    });
    if (stop.load()) return false;
    queue.push_back(std::move(example));
    // The consumer waits only on an empty queue: wake it once a batch is ready, not per example (a wake-up per
    // example cost 40% of the throughput on short documents).
    const bool wake = static_cast<int64_t>(queue.size()) == wake_batch();
    lock.unlock();
    if (wake) not_empty.notify_one();
    return true;
  }

  void run() {
    try {
      produce();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      finished = true;
    }
    not_empty.notify_all();
  }

  void produce() {
    const uint64_t seed = epoch_seed(options.seed, epoch);
    std::mt19937_64 shuffle_rng(splitmix64(seed ^ 0x243f6a8885a308d3ULL));
    const bool shuffle = options.shuffle_buffer > 1;
    const auto capacity = static_cast<size_t>(std::max<int64_t>(options.shuffle_buffer, 1));
    std::vector<PretrainingExample> buffer;

    // Through the reservoir: once it is full, each new example takes the place of a random one, which goes out.
    auto emit = [&](PretrainingExample&& example) {
      if (!shuffle) return push(std::move(example));
      if (buffer.size() < capacity) {
        buffer.push_back(std::move(example));
        return true;
      }
      const size_t j = below(shuffle_rng, buffer.size());
      std::swap(buffer[j], example);
      return push(std::move(example));
    };

    TextSource text(tokenizer, options, seed);
    PretrainingExample example;
    for (const Input& input : inputs) {
      if (!input.text.empty()) {
        text.open(input.text);
        while (text.next(example, &stop))
          if (!emit(std::move(example))) return;
      } else {
        std::vector<size_t> order(input.shards.shards.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        if (shuffle) {
          for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[below(shuffle_rng, i)]);
        }
        for (size_t index : order) {
          ShardReader reader(input.shards.shards[index], input.shards.max_seq_length);
          while (reader.next(example)) {
            if (stop.load(std::memory_order_relaxed) || !emit(std::move(example))) return;
          }
        }
      }
      if (stop.load()) return;
    }
    // Drain the reservoir in a random order.
    while (!buffer.empty()) {
      const size_t j = below(shuffle_rng, buffer.size());
      std::swap(buffer[j], buffer.back());
      if (!push(std::move(buffer.back()))) return;
      buffer.pop_back();
    }
  }
};

PretrainingStream::PretrainingStream(const Tokenizer& tokenizer, const CorpusOptions& options, int64_t epoch)
    : state_(std::make_unique<State>(tokenizer, options, epoch)) {
  validate(options);
  state_->inputs = resolve_inputs(tokenizer, options);
  state_->producer = std::thread([state = state_.get()] { state->run(); });
}

PretrainingStream::~PretrainingStream() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->not_full.notify_all();
  if (state_->producer.joinable()) state_->producer.join();
}

bool PretrainingStream::next(PretrainingExample& out) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mutex);
  if (s.queue.empty() && !s.finished) {
    const auto start = std::chrono::steady_clock::now();
    s.not_empty.wait(lock, [&] { return !s.queue.empty() || s.finished; });
    s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (s.queue.empty()) {
    if (s.error) std::rethrow_exception(s.error);
    return false;
  }
  out = std::move(s.queue.front());
  s.queue.pop_front();
  ++s.produced;
  // The producer waits only on a full queue: wake it once half of it is free.
  const bool wake = static_cast<int64_t>(s.queue.size()) == s.options.queue_capacity / 2;
  lock.unlock();
  if (wake) s.not_full.notify_one();
  return true;
}

void PretrainingStream::skip(int64_t n) {
  PretrainingExample dropped;
  for (int64_t i = 0; i < n && next(dropped); ++i) {
  }
}

int64_t PretrainingStream::produced() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->produced;
}

double PretrainingStream::wait_seconds() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->wait_seconds;
}

// ---- shards

bool is_shard_dir(const fs::path& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(path / kManifestName, ec);
}

std::string vocab_fingerprint(const Tokenizer& tokenizer) {
  Sha256 hash;
  for (int64_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (id > 0) hash.update("\n");
    hash.update(tokenizer.id_to_token(id));
  }
  return hash.hex_digest();
}

ShardSummary prepare_shards(const Tokenizer& tokenizer, const CorpusOptions& options, const fs::path& dir,
                            int64_t examples_per_shard) {
  validate(options);
  if (examples_per_shard < 1)
    throw std::invalid_argument(fmt::format("examples_per_shard must be at least 1, got {}", examples_per_shard));
  const std::vector<Input> inputs = resolve_inputs(tokenizer, options);
  for (const Input& input : inputs) {
    if (input.text.empty())
      throw std::invalid_argument(
          fmt::format("{} is a prepared corpus already; prepare_shards reads text files", input.shards.dir.string()));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  const fs::path manifest_file = dir / kManifestName;
  fs::remove(manifest_file, ec);  // until the new one is written, DIR is not a prepared corpus
  if (ec) throw std::runtime_error(fmt::format("cannot remove {}: {}", manifest_file.string(), ec.message()));

  ShardSummary summary;
  summary.dir = dir;
  json shards = json::array();
  std::ofstream out;
  fs::path shard_path;
  int64_t in_shard = 0;
  uint64_t shard_bytes = 0;
  std::string bytes;

  auto write = [&](const std::string& data) {
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error(fmt::format("cannot write {} (disk full?)", shard_path.string()));
    shard_bytes += data.size();
  };
  auto close_shard = [&] {
    out.flush();
    out.close();
    if (!out) throw std::runtime_error(fmt::format("cannot write {} (disk full?)", shard_path.string()));
    sync_path(shard_path, true);
    shards.push_back({{"file", shard_path.filename().string()}, {"examples", in_shard}, {"bytes", shard_bytes}});
    ++summary.shards;
  };

  TextSource source(tokenizer, options, epoch_seed(options.seed, 0));
  PretrainingExample example;
  for (const Input& input : inputs) {
    source.open(input.text);
    while (source.next(example)) {
      if (!out.is_open()) {
        shard_path = dir / fmt::format("shard-{:05d}.bin", summary.shards);
        out.open(shard_path, std::ios::binary | std::ios::trunc);
        if (!out) throw std::runtime_error(fmt::format("cannot write {}", shard_path.string()));
        in_shard = 0;
        shard_bytes = 0;
        bytes.assign(kShardMagic, sizeof kShardMagic);
        put_u32(bytes, kShardVersion);
        put_u32(bytes, static_cast<uint32_t>(options.max_seq_length));
        write(bytes);
      }
      bytes.clear();
      put_u16(bytes, static_cast<uint32_t>(example.input_ids.size()));
      put_u16(bytes, static_cast<uint32_t>(example.first_segment_length));
      for (int32_t id : example.input_ids) put_u32(bytes, static_cast<uint32_t>(id));
      write(bytes);
      ++in_shard;
      ++summary.examples;
      summary.tokens += static_cast<int64_t>(example.input_ids.size());
      if (in_shard == examples_per_shard) close_shard();
    }
  }
  if (out.is_open()) close_shard();
  summary.documents = source.documents();
  summary.lines = source.lines();
  sync_path(dir, false);

  json manifest = {{"format", kManifestFormat},
                   {"version", kShardVersion},
                   {"vocab_size", tokenizer.vocab_size()},
                   {"vocab_sha256", vocab_fingerprint(tokenizer)},
                   {"max_seq_length", options.max_seq_length},
                   {"examples", summary.examples},
                   {"tokens", summary.tokens},
                   {"documents", summary.documents},
                   {"lines", summary.lines},
                   {"shards", shards},
                   {"options",
                    {{"document_format", options.document_format},
                     {"split_sentences", options.split_sentences},
                     {"short_seq_prob", options.short_seq_prob},
                     {"single_segment_prob", options.single_segment_prob},
                     {"seed", options.seed}}}};
  write_file_atomic(manifest_file, manifest.dump(2) + "\n");  // last: only now is DIR a prepared corpus
  sync_path(dir, false);
  return summary;
}

}  // namespace electra
