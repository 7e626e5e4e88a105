#include "corpus/shard_format.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "common/crash_point.h"
#include "common/files.h"
#include "common/sha256.h"
#include "common/stop_signal.h"
#include "corpus/text_source.h"
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

// prepare_shards' two halves (below).
ShardSummary write_shards(const Tokenizer& tokenizer, const CorpusOptions& options,
                          const std::vector<CorpusInput>& inputs, const fs::path& dir, int64_t examples_per_shard);
void move_corpus_into(const fs::path& work, const fs::path& dir);

}  // namespace

ShardManifest read_shard_manifest(const fs::path& dir, const Tokenizer& tokenizer, const CorpusOptions& options) {
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

ShardReader::ShardReader(const ShardFile& shard, int64_t max_seq_length) : shard_(shard), max_(max_seq_length) {
  in_ = std::ifstream(shard.path, std::ios::binary);
  if (!in_) throw std::runtime_error(fmt::format("cannot read {}", shard.path.string()));
  in_.seekg(kShardHeaderBytes);
  offset_ = kShardHeaderBytes;
}

bool ShardReader::next(PretrainingExample& out) {
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

void ShardReader::corrupt(const std::string& what) const {
  throw std::runtime_error(
      fmt::format("{}: corrupt shard at byte {} (example {}): {}", shard_.path.string(), offset_, count_, what));
}

std::vector<CorpusInput> resolve_inputs(const Tokenizer& tokenizer, const CorpusOptions& options) {
  if (options.files.empty()) throw std::invalid_argument("no corpus files given");
  std::vector<CorpusInput> inputs;
  for (const fs::path& file : options.files) {
    std::error_code ec;
    const auto status = fs::status(file, ec);
    if (!fs::exists(status))
      throw std::runtime_error(fmt::format("cannot read {}: {}", file.string(),
                                           ec ? ec.message() : std::string("no such file or directory")));
    CorpusInput input;
    if (fs::is_directory(status)) {
      if (!is_shard_dir(file))
        throw std::runtime_error(fmt::format("cannot read {}: a folder, not a text file nor a prepared corpus (no {})",
                                             file.string(), kManifestName));
      input.shards = read_shard_manifest(file, tokenizer, options);
    } else {
      std::ifstream probe(file, std::ios::binary);
      if (!probe) throw std::runtime_error(fmt::format("cannot read {}", file.string()));
      input.text = file;
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

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
  const std::vector<CorpusInput> inputs = resolve_inputs(tokenizer, options);
  for (const CorpusInput& input : inputs) {
    if (input.text.empty())
      throw std::invalid_argument(
          fmt::format("{} is a prepared corpus already; prepare_shards reads text files", input.shards.dir.string()));
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
  // The new corpus is written into DIR/.preparing and moved in only once complete: a bad line or a full disk leaves
  // DIR's earlier corpus as it was.
  const fs::path work = dir / ".preparing";
  remove_tree(work);
  fs::create_directories(work, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", work.string(), ec.message()));
  try {
    ShardSummary summary = write_shards(tokenizer, options, inputs, work, examples_per_shard);
    move_corpus_into(work, dir);
    summary.dir = dir;
    return summary;
  } catch (...) {
    remove_tree_noexcept(work);
    throw;
  }
}

namespace {

ShardSummary write_shards(const Tokenizer& tokenizer, const CorpusOptions& options,
                          const std::vector<CorpusInput>& inputs, const fs::path& dir, int64_t examples_per_shard) {
  const fs::path manifest_file = dir / kManifestName;
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
    sync_file(shard_path);
    shards.push_back({{"file", shard_path.filename().string()}, {"examples", in_shard}, {"bytes", shard_bytes}});
    ++summary.shards;
  };

  TextSource source(tokenizer, options, epoch_seed(options.seed, 0));
  PretrainingExample example;
  for (const CorpusInput& input : inputs) {
    source.open(input.text);
    while (source.next(example)) {
      crash_point("prepare.example");
      if (stop_signal() != 0) {
        // prepare_shards removes DIR/.preparing on the way out.
        stop_if_signalled(fmt::format("preparing {}", dir.parent_path().string()),
                          fmt::format("{} is as it was; rerun the same command to prepare it",
                                      dir.parent_path().string()));
      }
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
  sync_directory_noexcept(dir);  // best effort: the shards' entries on disk before shards.json names them

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
  // Last, and durably (DIR fsynced after the rename): only now is DIR a prepared corpus.
  write_file_atomic(manifest_file, manifest.dump(2) + "\n");
  return summary;
}

// Replaces the corpus in `dir` by the complete one in `work`: the old manifest goes first (from then on `dir` is not a
// prepared corpus), then the old shards, the new shards come in, and the new manifest last.
void move_corpus_into(const fs::path& work, const fs::path& dir) {
  const auto is_shard = [](const fs::path& f) {
    const std::string name = f.filename().string();
    return name.rfind("shard-", 0) == 0 && f.extension() == ".bin";
  };
  std::error_code ec;
  fs::remove(dir / kManifestName, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot remove {}: {}", (dir / kManifestName).string(), ec.message()));
  for (const auto& f : list_directory(dir))
    if (is_shard(f)) fs::remove(f);
  for (const auto& f : list_directory(work))
    if (is_shard(f)) fs::rename(f, dir / f.filename());
  sync_directory_noexcept(dir);  // the shards' entries on disk before shards.json names them
  fs::rename(work / kManifestName, dir / kManifestName);
  sync_directory(dir);
  remove_tree(work);
}

}  // namespace

}  // namespace electra
