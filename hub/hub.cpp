#include "hub/hub.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "common/files.h"
#include "common/sha256.h"
#include "hub/http.h"
#include "hub/hub_response.h"

namespace electra {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

bool env_true(const char* name) {
  std::string value = env(name);
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::toupper(c); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

fs::path expand_user(const std::string& path) {
  if (path.empty() || path[0] != '~') return path;
  const std::string home = env("HOME");
  if (home.empty()) throw std::invalid_argument(fmt::format("cannot expand '{}': HOME is not set", path));
  return fs::path(home) / path.substr(path.size() > 1 && path[1] == '/' ? 2 : 1);
}

fs::path hf_home() {
  if (const auto home = env("HF_HOME"); !home.empty()) return expand_user(home);
  if (const auto xdg = env("XDG_CACHE_HOME"); !xdg.empty()) return expand_user(xdg) / "huggingface";
  return expand_user("~/.cache/huggingface");
}

std::string trim(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

bool is_commit_hash(const std::string& text) {
  return text.size() == 40 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A name the server sent that becomes a path component (ETag, commit): refuse anything that could escape.
void check_path_component(const std::string& value, const char* what, const std::string& url) {
  const bool ok = !value.empty() && value != "." && value != ".." && value.size() <= 128 &&
                  std::all_of(value.begin(), value.end(), [](unsigned char c) {
                    return std::isalnum(c) || c == '-' || c == '_' || c == '.';
                  });
  if (!ok) throw std::runtime_error(fmt::format("the hub sent an unusable {} '{}' for {}", what, value, url));
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

std::string origin_of(const std::string& url) {
  const auto scheme = url.find("://");
  const auto path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return path == std::string::npos ? url : url.substr(0, path);
}

std::string human_size(int64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  if (bytes < 1000 * 1000) return fmt::format("{:.1f} kB", bytes / 1e3);
  if (bytes < 1000LL * 1000 * 1000) return fmt::format("{:.1f} MB", bytes / 1e6);
  return fmt::format("{:.2f} GB", bytes / 1e9);
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
  std::string describe() const { return fmt::format("model '{}' (revision '{}')", id_.repo, id_.revision); }
  void say(const std::string& line) const {
    if (!options_.quiet) fmt::print(stderr, "{}\n", line);
  }

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
  std::string commit = trim(read_file(ref));
  if (commit.empty()) return std::nullopt;
  check_path_component(commit, "commit in", ref.string());
  return commit;
}

void ModelFetcher::write_ref(const std::string& commit) const {
  if (id_.revision == commit) return;
  const fs::path ref = storage_ / "refs" / id_.revision;
  if (fs::is_regular_file(ref) && trim(read_file(ref)) == commit) return;
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
  http::Request request;
  request.url = fmt::format("{}/{}/resolve/{}/{}", options_.endpoint, id_.repo, url_encode(revision, false),
                            url_encode(file, true));
  if (!options_.token.empty()) request.headers.push_back("Authorization: Bearer " + options_.token);
  request.connect_timeout_s = options_.connect_timeout_s;
  request.stall_timeout_s = options_.stall_timeout_s;
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
  http::DownloadSpec spec;
  spec.request.url = meta.location;
  spec.request.follow_redirects = true;
  spec.request.connect_timeout_s = options_.connect_timeout_s;
  spec.request.stall_timeout_s = options_.stall_timeout_s;
  // huggingface_hub sends the token only to the hub itself, never to the LFS storage it redirects to.
  const std::string resolve_url = fmt::format("{}/{}/resolve/", options_.endpoint, id_.repo);
  if (!options_.token.empty() && meta.location.rfind(resolve_url, 0) == 0) {
    spec.request.headers.push_back("Authorization: Bearer " + options_.token);
  }
  spec.incomplete = incomplete;
  spec.expected_size = meta.size;
  spec.label = file;
  spec.max_retries = options_.max_retries;
  spec.retry_delay_ms = options_.retry_delay_ms;
  spec.progress = options_.progress;
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

ModelSnapshot ModelFetcher::run() {
  std::optional<std::string> commit;
  if (is_commit_hash(id_.revision)) {
    commit = id_.revision;
  } else if (!options_.refresh || options_.offline) {
    commit = read_ref();
  }
  if (commit) {
    bool intact = true;
    for (const auto& file : plan_files()) {
      if (presence(*commit, file) == Presence::present && !verify_cached(*commit, file)) intact = false;
    }
    if (intact && missing(*commit, true).empty()) return snapshot(*commit, {});
    if (options_.offline && missing(*commit, false).empty()) return snapshot(*commit, {});
  }
  if (options_.offline) {
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

  std::vector<std::string> downloaded;
  bool weights_found = false, vocab_found = false;
  try {
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
  } catch (const http::NetworkError& e) {
    std::optional<std::string> cached = commit ? commit : read_ref();
    if (cached && missing(*cached, false).empty()) {
      say(fmt::format("warning: {}; using the cached snapshot {} of {}", e.what(), *cached, describe()));
      return snapshot(*cached, std::move(downloaded));
    }
    throw std::runtime_error(fmt::format(
        "{} while fetching {}, which is not complete in the cache {}: check the network connection (and proxy "
        "settings), set HF_ENDPOINT to a reachable mirror, or pass a local model directory",
        e.what(), describe(), storage_.string()));
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
  return snapshot(*commit, std::move(downloaded));
}

}  // namespace

std::optional<FileMetadata> file_metadata(const http::Response& response, const std::string& file,
                                          const std::string& url, const std::string& endpoint) {
  const long status = response.status;
  if (status == 404) {
    const std::string code = response.header("x-error-code").value_or("");
    if (code == "EntryNotFound" || (code.empty() && file != "config.json")) {
      FileMetadata meta;
      meta.commit = response.header("x-repo-commit").value_or("");
      return meta;
    }
  }
  if (status < 200 || status >= 400) return std::nullopt;
  FileMetadata meta;
  meta.exists = true;
  meta.commit = response.header("x-repo-commit").value_or("");
  if (meta.commit.empty()) {
    throw std::runtime_error(fmt::format(
        "{} answered without an X-Repo-Commit header for {}: is HF_ENDPOINT ({}) a Hugging Face hub?",
        origin_of(url), url, endpoint));
  }
  check_path_component(meta.commit, "commit", url);
  std::string etag = response.header("x-linked-etag").value_or(response.header("etag").value_or(""));
  if (etag.rfind("W/", 0) == 0) etag = etag.substr(2);
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  if (etag.empty()) throw std::runtime_error(fmt::format("the hub sent no ETag for {}", url));
  check_path_component(etag, "ETag", url);
  meta.etag = etag;
  const auto size_text = response.header("x-linked-size") ? response.header("x-linked-size")
                                                          : response.header("content-length");
  if (size_text) {
    try {
      meta.size = std::stoll(*size_text);
    } catch (const std::exception&) {
    }
    if (!meta.size || *meta.size < 0)
      throw std::runtime_error(fmt::format("the hub sent a bad size '{}' for {}", *size_text, url));
  }
  const auto location = response.header("location");
  meta.location = status >= 300 && location ? *location : url;
  return meta;
}

HubOptions HubOptions::from_environment() {
  HubOptions options;
  if (auto endpoint = env("HF_ENDPOINT"); !endpoint.empty()) {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    options.endpoint = endpoint;
  }
  options.cache_dir = default_hub_cache();
  options.token = env("HF_TOKEN");
  if (options.token.empty()) options.token = env("HUGGING_FACE_HUB_TOKEN");
  if (options.token.empty()) {
    const std::string token_path = env("HF_TOKEN_PATH");
    const fs::path file = token_path.empty() ? hf_home() / "token" : expand_user(token_path);
    std::error_code ec;
    if (fs::is_regular_file(file, ec)) options.token = trim(read_file(file));
  }
  options.offline = env_true("HF_HUB_OFFLINE");
  return options;
}

fs::path default_hub_cache() {
  if (const auto cache = env("HF_HUB_CACHE"); !cache.empty()) return expand_user(cache);
  if (const auto legacy = env("HUGGINGFACE_HUB_CACHE"); !legacy.empty()) return expand_user(legacy);
  return hf_home() / "hub";
}

ModelId parse_model_id(const std::string& text) {
  ModelId id;
  const auto at = text.find('@');
  id.repo = text.substr(0, at);
  if (at != std::string::npos) id.revision = text.substr(at + 1);
  const auto valid_part = [](const std::string& part) {
    if (part.empty() || part.size() > 96) return false;
    if (part.front() == '-' || part.front() == '.' || part.back() == '-' || part.back() == '.') return false;
    if (part.find("--") != std::string::npos || part.find("..") != std::string::npos) return false;
    return std::all_of(part.begin(), part.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
  };
  const auto slash = id.repo.find('/');
  const bool repo_ok = slash == std::string::npos
                           ? valid_part(id.repo)
                           : valid_part(id.repo.substr(0, slash)) && valid_part(id.repo.substr(slash + 1));
  if (!repo_ok) {
    throw std::invalid_argument(fmt::format(
        "'{}' is neither an existing model directory nor a hub model id of the form org/name[@revision]", text));
  }
  bool revision_ok = !id.revision.empty() && id.revision.front() != '/' && id.revision.back() != '/';
  for (const auto& part : fs::path(id.revision)) revision_ok = revision_ok && part != ".." && part != ".";
  revision_ok = revision_ok && std::none_of(id.revision.begin(), id.revision.end(), [](unsigned char c) {
                  return std::isspace(c) || std::iscntrl(c) || c == '\\';
                });
  if (!revision_ok) throw std::invalid_argument(fmt::format("bad revision '{}' in model id '{}'", id.revision, text));
  return id;
}

std::string repo_folder_name(const std::string& repo) {
  std::string name = "models--" + repo;
  for (auto pos = name.find('/'); pos != std::string::npos; pos = name.find('/', pos)) name.replace(pos, 1, "--");
  return name;
}

ModelSnapshot fetch_model(const ModelId& id, const HubOptions& options) {
  return ModelFetcher(id, options).run();
}

fs::path resolve_model(const std::string& path_or_id, const HubOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path_or_id, ec)) return path_or_id;
  const bool looks_like_path = path_or_id.empty() || path_or_id[0] == '/' || path_or_id[0] == '.' ||
                               path_or_id[0] == '~' || path_or_id.back() == '/' ||
                               std::count(path_or_id.begin(), path_or_id.end(), '/') > 1;
  if (looks_like_path && path_or_id.find('@') == std::string::npos) {
    throw std::invalid_argument(fmt::format("model directory '{}' does not exist", path_or_id));
  }
  try {
    return fetch_model(parse_model_id(path_or_id), options).dir;
  } catch (const std::runtime_error& e) {
    // "org/name" is also a relative path: say that no such folder exists either, in case a folder was meant.
    throw std::runtime_error(fmt::format("{} (read as a hub id: there is no folder '{}' relative to {})", e.what(),
                                         path_or_id, fs::current_path().string()));
  }
}

}  // namespace electra
