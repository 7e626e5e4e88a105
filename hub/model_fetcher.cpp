// fetch_model: a model's snapshot in the hub cache, laid out as huggingface_hub lays it out (blobs named by
// ETag, snapshots/<commit>/ links, refs/<revision>, .no_exist/ markers, .locks/), downloading what it lacks.
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "common/files.h"
#include "hub/http.h"
#include "hub/hub.h"
#include "hub/hub_response.h"
#include "common/sha256.h"
#include "tasks/text_file.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

bool is_commit_hash(const std::string& text) {
  return text.size() == 40 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string url_encode(const std::string& text, bool keep_slash) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Exclusive advisory lock on a file, the kind Python's filelock takes: huggingface_hub and electra downloading
// the same blob at once wait for each other.
class FileLock {
 public:
  explicit FileLock(const fs::path& file) {
    fs::create_directories(file.parent_path());
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd_ < 0) throw std::runtime_error(fmt::format("cannot create lock {}: {}", file.string(), std::strerror(errno)));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd_);
        throw std::runtime_error(fmt::format("cannot lock {}: {}", file.string(), std::strerror(err)));
      }
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

enum class Presence { present, absent, unknown };

class ModelFetcher {
 public:
  ModelFetcher(const ModelId& id, const HubOptions& options)
      : id_(id),
        options_(options),
        cache_(options.cache_dir.empty() ? default_hub_cache() : options.cache_dir),
        storage_(cache_ / repo_folder_name(id.repo)) {}

  ModelSnapshot run();

 private:
  fs::path snapshot_dir(const std::string& commit) const { return storage_ / "snapshots" / commit; }
  Presence presence(const std::string& commit, const std::string& file) const;
  std::optional<std::string> read_ref() const;
  void write_ref(const std::string& commit) const;
  void mark_missing(const std::string& commit, const std::string& file) const;
  bool verify_cached(const std::string& commit, const std::string& file) const;
  // Files the snapshot must have, checked against the cache; empty when nothing is missing.
  std::vector<std::string> missing(const std::string& commit, bool optional_too) const;
  FileMetadata head(const std::string& revision, const std::string& file) const;
  [[noreturn]] void throw_http_error(const http::Response& response, const std::string& file,
                                     const std::string& url) const;
  void download_blob(const FileMetadata& meta, const std::string& file) const;
  void link(const std::string& commit, const std::string& file, const std::string& etag) const;
  ModelSnapshot snapshot(const std::string& commit, std::vector<std::string> downloaded) const;
  std::optional<ModelSnapshot> cached(const std::string& commit) const;
  [[noreturn]] void throw_offline(const std::optional<std::string>& commit) const;
  void fetch_files(std::optional<std::string>& commit, std::vector<std::string>& downloaded);
  std::string describe() const { return fmt::format("model '{}' (revision '{}')", id_.repo, id_.revision); }
  void say(const std::string& line) const { options_.say(line); }

  ModelId id_;
  HubOptions options_;
  fs::path cache_, storage_;
};

const std::vector<std::string>& plan_files() {
  // tokenizer.json only stands in for a missing vocab.txt (transformers 5 saves no vocab.txt).
  static const std::vector<std::string> files = {"config.json",           "model.safetensors", "pytorch_model.bin",
                                                 "vocab.txt",             "tokenizer.json",    "tokenizer_config.json",
                                                 "special_tokens_map.json"};
  return files;
}
bool is_required(const std::string& file) { return file == "config.json"; }

Presence ModelFetcher::presence(const std::string& commit, const std::string& file) const {
  if (fs::exists(snapshot_dir(commit) / file)) return Presence::present;
  if (fs::exists(storage_ / ".no_exist" / commit / file)) return Presence::absent;
  return Presence::unknown;
}

std::optional<std::string> ModelFetcher::read_ref() const {
  const fs::path ref = storage_ / "refs" / id_.revision;
  if (!fs::is_regular_file(ref)) return std::nullopt;
  std::string commit = trim_ascii(read_file(ref));
  if (commit.empty()) return std::nullopt;
  check_path_component(commit, "commit in", ref.string());
  return commit;
}

void ModelFetcher::write_ref(const std::string& commit) const {
  if (id_.revision == commit) return;
  const fs::path ref = storage_ / "refs" / id_.revision;
  if (fs::is_regular_file(ref) && trim_ascii(read_file(ref)) == commit) return;
  write_file_atomic(ref, commit);
}

void ModelFetcher::mark_missing(const std::string& commit, const std::string& file) const {
  const fs::path marker = storage_ / ".no_exist" / commit / file;
  fs::create_directories(marker.parent_path());
  if (!fs::exists(marker)) write_file_atomic(marker, "");
}

// With options.verify: re-hashes the blob behind an LFS pointer; a corrupted one is deleted (false).
bool ModelFetcher::verify_cached(const std::string& commit, const std::string& file) const {
  const fs::path pointer = snapshot_dir(commit) / file;
  if (!options_.verify || !fs::is_symlink(pointer)) return true;
  const std::string expected = fs::read_symlink(pointer).filename().string();
  if (!is_sha256_hex(expected)) return true;  // a git object id: not a content hash we can check
  const fs::path blob = fs::canonical(pointer);
  const std::string actual = sha256_file(blob);
  if (actual == expected) return true;
  fs::remove(blob);
  fs::remove(pointer);
  say(fmt::format("corrupted blob {} (sha256 {}) for {} of {} removed", blob.string(), actual, file, describe()));
  return false;
}

std::vector<std::string> ModelFetcher::missing(const std::string& commit, bool optional_too) const {
  std::vector<std::string> out;
  if (presence(commit, "config.json") != Presence::present) out.push_back("config.json");
  if (presence(commit, "vocab.txt") != Presence::present && presence(commit, "tokenizer.json") != Presence::present) {
    out.push_back("vocab.txt (or tokenizer.json)");
  }
  if (presence(commit, "model.safetensors") != Presence::present &&
      presence(commit, "pytorch_model.bin") != Presence::present) {
    out.push_back("model.safetensors (or pytorch_model.bin)");
  }
  if (optional_too) {
    for (const auto& file : {std::string("tokenizer_config.json"), std::string("special_tokens_map.json")}) {
      if (presence(commit, file) == Presence::unknown) out.push_back(file);
    }
  }
  return out;
}

FileMetadata ModelFetcher::head(const std::string& revision, const std::string& file) const {
  http::Request request = download_request(
      options_, fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, id_.repo, url_encode(revision, false),
                            url_encode(file, true)));
  if (!options_.token.empty()) request.headers.push_back("Authorization: Bearer " + options_.token);
  http::Response response;
  // Follow relative redirects only (a renamed repo); an absolute one points at the LFS storage.
  for (int hop = 0;; ++hop) {
    response = http::head(request);
    const auto location = response.header("location");
    if (response.status >= 300 && response.status < 400 && location && !location->empty() && (*location)[0] == '/' &&
        hop < 5) {
      request.url = origin_of(request.url) + *location;
      continue;
    }
    break;
  }
  const auto meta = file_metadata(response, file, request.url, options_.endpoint);
  if (!meta) throw_http_error(response, file, request.url);
  return *meta;
}

void ModelFetcher::throw_http_error(const http::Response& response, const std::string& file,
                                    const std::string& url) const {
  const long status = response.status;
  const std::string code = response.header("x-error-code").value_or("");
  const std::string server_says = response.header("x-error-message")
                                      ? fmt::format(" (the hub says: {})", *response.header("x-error-message"))
                                      : "";
  if (code == "RevisionNotFound") {
    throw std::runtime_error(fmt::format("revision '{}' of model '{}' not found on {}{}: check the part after '@'",
                                         id_.revision, id_.repo, options_.endpoint, server_says));
  }
  if (code == "EntryNotFound") {
    throw std::runtime_error(fmt::format("{} has no {} on {}{}: is it a transformers checkpoint?", describe(), file,
                                         options_.endpoint, server_says));
  }
  if (code == "GatedRepo" || status == 403) {
    throw std::runtime_error(fmt::format(
        "{} is gated or private (HTTP {}){}: accept its conditions at {}/{} and set HF_TOKEN to a token of an "
        "account with access{}",
        describe(), status, server_says, options_.endpoint, id_.repo,
        options_.token.empty() ? "" : " (the token in use was refused)"));
  }
  if (status == 401 || code == "RepoNotFound" || status == 404) {
    throw std::runtime_error(fmt::format(
        "{} not found on {} (HTTP {} for {}){}: check the model id and revision; if the repo is private or "
        "gated, set HF_TOKEN to a token with access{}",
        describe(), options_.endpoint, status, file, server_says,
        options_.token.empty() ? "" : " (a token was sent)"));
  }
  throw std::runtime_error(
      fmt::format("the hub answered HTTP {} for {}{}: try again later", status, url, server_says));
}

void ModelFetcher::download_blob(const FileMetadata& meta, const std::string& file) const {
  const fs::path blob = storage_ / "blobs" / meta.etag;
  FileLock lock(cache_ / ".locks" / repo_folder_name(id_.repo) / (meta.etag + ".lock"));
  if (fs::exists(blob)) return;  // another process finished it while we waited
  const fs::path incomplete = blob.string() + ".incomplete";
  fs::create_directories(blob.parent_path());
  if (meta.size) {
    struct statvfs disk {};
    std::error_code ec;
    const int64_t have = fs::exists(incomplete) ? static_cast<int64_t>(fs::file_size(incomplete, ec)) : 0;
    if (::statvfs(blob.parent_path().c_str(), &disk) == 0) {
      const auto free_bytes = static_cast<int64_t>(disk.f_bavail) * static_cast<int64_t>(disk.f_frsize);
      if (free_bytes > 0 && free_bytes < *meta.size - have) {
        say(fmt::format("warning: {} needs {} but only {} are free in {}", file, human_size(*meta.size - have),
                        human_size(free_bytes), blob.parent_path().string()));
      }
    }
  }
  say(fmt::format("downloading {} {} ({})", id_.repo, file, meta.size ? human_size(*meta.size) : "size unknown"));
  http::DownloadSpec spec = download_spec(options_, meta.location, incomplete, file);
  // huggingface_hub sends the token only to the hub itself, never to the LFS storage it redirects to.
  const std::string resolve_url = fmt::format("{}/{}/resolve/", options_.endpoint, id_.repo);
  if (!options_.token.empty() && meta.location.rfind(resolve_url, 0) == 0) {
    spec.request.headers.push_back("Authorization: Bearer " + options_.token);
  }
  spec.expected_size = meta.size;
  const http::Response response = http::download(spec);
  if (response.status < 200 || response.status >= 300) throw_http_error(response, file, meta.location);
  const int64_t got = static_cast<int64_t>(fs::file_size(incomplete));
  if (meta.size && got != *meta.size) {
    fs::remove(incomplete);
    throw std::runtime_error(fmt::format(
        "downloaded {} of {} has {} bytes but the hub announced {}; the file was deleted: run again to retry",
        file, describe(), got, *meta.size));
  }
  if (is_sha256_hex(meta.etag)) {
    const std::string actual = sha256_file(incomplete);
    if (actual != meta.etag) {
      fs::remove(incomplete);
      throw std::runtime_error(fmt::format(
          "downloaded {} of {} is corrupted: its sha256 is {} but the hub says {}; the file was deleted: run "
          "again to retry",
          file, describe(), actual, meta.etag));
    }
  }
  fs::rename(incomplete, blob);
}

void ModelFetcher::link(const std::string& commit, const std::string& file, const std::string& etag) const {
  const fs::path pointer = snapshot_dir(commit) / file;
  fs::create_directories(pointer.parent_path());
  std::error_code ec;
  fs::remove(pointer, ec);  // a dangling link to a blob that was deleted
  fs::path target;
  const fs::path relative(file);
  for (auto part = relative.begin(); part != relative.end(); ++part) target /= "..";
  target = target / ".." / "blobs" / etag;
  fs::create_symlink(target, pointer, ec);
  if (ec) fs::copy_file(storage_ / "blobs" / etag, pointer, fs::copy_options::overwrite_existing);
}

ModelSnapshot ModelFetcher::snapshot(const std::string& commit, std::vector<std::string> downloaded) const {
  ModelSnapshot snap;
  snap.dir = snapshot_dir(commit);
  snap.commit = commit;
  for (const auto& file : plan_files()) {
    if (fs::exists(snap.dir / file)) snap.files.push_back(file);
  }
  snap.downloaded = std::move(downloaded);
  return snap;
}

// The snapshot of `commit` when the cache has everything (or, offline, everything required) and it is intact.
std::optional<ModelSnapshot> ModelFetcher::cached(const std::string& commit) const {
  bool intact = true;
  for (const auto& file : plan_files()) {
    if (presence(commit, file) == Presence::present && !verify_cached(commit, file)) intact = false;
  }
  if (intact && missing(commit, true).empty()) return snapshot(commit, {});
  if (options_.offline && missing(commit, false).empty()) return snapshot(commit, {});
  return std::nullopt;
}

void ModelFetcher::throw_offline(const std::optional<std::string>& commit) const {
  const std::string what =
      commit ? fmt::format("{}", fmt::join(missing(*commit, false), ", "))
             : fmt::format("config.json, vocab.txt (or tokenizer.json), model.safetensors (or pytorch_model.bin): "
                           "the revision has no refs/{} there",
                           id_.revision);
  throw std::runtime_error(fmt::format(
      "downloads are off (HF_HUB_OFFLINE=1 or --offline) and {} is not complete in the cache {}: missing {}; "
      "allow downloads (unset HF_HUB_OFFLINE, drop --offline) or pass a local model directory",
      describe(), storage_.string(), what));
}

// Asks the hub about each file of plan_files() the cache lacks (pinning `commit` to the first answer's) and
// downloads and links the ones it has; throws when a required file or both choices of weights or vocabulary are
// missing upstream.
void ModelFetcher::fetch_files(std::optional<std::string>& commit, std::vector<std::string>& downloaded) {
  bool weights_found = false, vocab_found = false;
  for (const auto& file : plan_files()) {
    if (file == "pytorch_model.bin" && weights_found) continue;
    if (file == "tokenizer.json" && vocab_found) continue;
    if (commit) {
      const Presence known = presence(*commit, file);
      const bool weights = file == "model.safetensors" || file == "pytorch_model.bin";
      if (known == Presence::present ||
          (file == "model.safetensors" && presence(*commit, "pytorch_model.bin") == Presence::present)) {
        weights_found |= weights;
        vocab_found |= file == "vocab.txt" || file == "tokenizer.json";
        continue;
      }
      if (known == Presence::absent && !is_required(file)) continue;
    }
    const FileMetadata meta = head(commit ? *commit : id_.revision, file);
    if (!meta.exists) {
      if (!meta.commit.empty()) {
        check_path_component(meta.commit, "commit", file);
        if (!commit) commit = meta.commit;
        mark_missing(meta.commit, file);
        write_ref(meta.commit);
      }
      if (is_required(file)) {
        throw std::runtime_error(fmt::format("{} has no {} on {}: is it a transformers checkpoint?", describe(),
                                             file, options_.endpoint));
      }
      if (file == "pytorch_model.bin") {
        throw std::runtime_error(fmt::format("{} has neither model.safetensors nor pytorch_model.bin on {}",
                                             describe(), options_.endpoint));
      }
      if (file == "tokenizer.json") {
        throw std::runtime_error(fmt::format("{} has neither vocab.txt nor tokenizer.json on {}: is it a "
                                             "transformers checkpoint?",
                                             describe(), options_.endpoint));
      }
      continue;
    }
    if (!commit) commit = meta.commit;
    write_ref(meta.commit);
    const fs::path blob = storage_ / "blobs" / meta.etag;
    if (!fs::exists(blob)) {
      download_blob(meta, file);
      downloaded.push_back(file);
    }
    link(*commit, file, meta.etag);
    if (file == "model.safetensors" || file == "pytorch_model.bin") weights_found = true;
    if (file == "vocab.txt" || file == "tokenizer.json") vocab_found = true;
  }
  if (!weights_found) {
    throw std::runtime_error(fmt::format("{} has neither model.safetensors nor pytorch_model.bin on {}", describe(),
                                         options_.endpoint));
  }
  if (!vocab_found) {
    throw std::runtime_error(fmt::format("{} has neither vocab.txt nor tokenizer.json on {}: is it a transformers "
                                         "checkpoint?",
                                         describe(), options_.endpoint));
  }
}

ModelSnapshot ModelFetcher::run() {
  std::optional<std::string> commit;
  if (is_commit_hash(id_.revision)) {
    commit = id_.revision;
  } else if (!options_.refresh || options_.offline) {
    commit = read_ref();
  }
  if (commit) {
    if (auto snap = cached(*commit)) return std::move(*snap);
  }
  if (options_.offline) throw_offline(commit);
  std::vector<std::string> downloaded;
  try {
    fetch_files(commit, downloaded);
  } catch (const http::NetworkError& e) {
    const std::optional<std::string> fallback = commit ? commit : read_ref();
    if (fallback && missing(*fallback, false).empty()) {
      say(fmt::format("warning: {}; using the cached snapshot {} of {}", e.what(), *fallback, describe()));
      return snapshot(*fallback, std::move(downloaded));
    }
    throw std::runtime_error(fmt::format(
        "{} while fetching {}, which is not complete in the cache {}: check the network connection (and proxy "
        "settings), set HF_ENDPOINT to a reachable mirror, or pass a local model directory",
        e.what(), describe(), storage_.string()));
  }
  return snapshot(*commit, std::move(downloaded));
}

}  // namespace

ModelSnapshot fetch_model(const ModelId& id, const HubOptions& options) {
  return ModelFetcher(id, options).run();
}

}  // namespace electra
