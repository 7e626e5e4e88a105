// Hub client and task data downloads against a fake hub on 127.0.0.1 (never the internet): cache layout shared
// with huggingface_hub, cache hits without requests, resume after a dropped connection, errors, offline mode.
#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/sha256.h"
#include "hub/data.h"
#include "hub/hub.h"
#include "hub/hub_response.h"
#include "tasks/task.h"
#include "tests/catch.h"
#include "tokenizer/tokenizer.h"
#include "tests/support.h"
#include "common/source_dir.h"

namespace fs = std::filesystem;
using namespace electra;

namespace {

// One canned answer of the fake server.
struct Route {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int64_t cut_after = -1;  // with cuts_left > 0: send this many body bytes, then drop the connection
  int cuts_left = 0;
};

struct Seen {
  std::string method, path;
  std::map<std::string, std::string> headers;  // lowercase names
  std::optional<std::string> header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

// A tiny HTTP/1.1 server on an ephemeral port of 127.0.0.1: one request per connection, answers from a route
// table, honours Range, records every request. Stops in its destructor, or by itself after 60 s.
class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  void set(const std::string& path, Route route) {
    std::lock_guard<std::mutex> lock(mutex_);
    routes_[path] = std::move(route);
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }
  size_t count() { return seen().size(); }
  std::vector<Seen> seen_path(const std::string& path) {
    std::vector<Seen> out;
    for (const auto& s : seen()) {
      if (s.path == path) out.push_back(s);
    }
    return out;
  }

 private:
  void loop() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      timeval timeout{2, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      serve(fd);
      ::close(fd);
    }
  }

  static void send_all(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  void serve(int fd) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<size_t>(n));
    }
    Seen s;
    const auto line_end = request.find("\r\n");
    const std::string first = request.substr(0, line_end);
    const auto sp1 = first.find(' '), sp2 = first.find(' ', sp1 + 1);
    s.method = first.substr(0, sp1);
    s.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t pos = line_end + 2;
    while (pos < request.size()) {
      const auto end = request.find("\r\n", pos);
      if (end == pos || end == std::string::npos) break;
      const std::string header = request.substr(pos, end - pos);
      const auto colon = header.find(':');
      std::string name = header.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      s.headers[name] = header.substr(header.find_first_not_of(' ', colon + 1));
      pos = end + 2;
    }
    Route route;
    bool found = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      seen_.push_back(s);
      const auto it = routes_.find(s.path);
      if (it != routes_.end()) {
        found = true;
        route = it->second;
        if (s.method == "GET" && it->second.cuts_left > 0) --it->second.cuts_left;
      }
    }
    if (!found) route.status = 404;
    int status = route.status;
    std::string body = route.body;
    std::vector<std::pair<std::string, std::string>> headers = route.headers;
    const auto range = s.header("range");
    if (range && status == 200 && s.method == "GET") {
      const int64_t from = std::stoll(range->substr(range->find('=') + 1));
      const auto size = static_cast<int64_t>(body.size());
      if (from >= size) {
        status = 416;
        body.clear();
      } else {
        status = 206;
        headers.emplace_back("Content-Range", fmt::format("bytes {}-{}/{}", from, size - 1, size));
        body = body.substr(static_cast<size_t>(from));
      }
    }
    const char* reason = status == 200 ? "OK" : status == 206 ? "Partial Content" : status == 302 ? "Found" : "Error";
    std::string head = fmt::format("HTTP/1.1 {} {}\r\nConnection: close\r\nContent-Length: {}\r\n", status, reason,
                                   body.size());
    for (const auto& [name, value] : headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    send_all(fd, head);
    if (s.method == "HEAD") return;
    if (route.cuts_left > 0 && route.cut_after >= 0 && static_cast<size_t>(route.cut_after) < body.size()) {
      send_all(fd, body.substr(0, static_cast<size_t>(route.cut_after)));
      return;  // connection closed mid-body
    }
    send_all(fd, body);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::map<std::string, Route> routes_;
  std::vector<Seen> seen_;
};

using test::contains;
using test::TempDir;

std::string fixture(const std::string& name) { return read_file(fs::path(electra::test::fixtures_dir()) / "hub" / name); }

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

struct ModelFile {
  std::string name, content;
  bool lfs = false;
  std::string etag() const { return lfs ? sha256_hex(content) : sha256_hex(content).substr(0, 40); }
};

std::vector<ModelFile> tiny_model() {
  std::string weights(300000, '\0');
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>((i * 131) % 251);
  return {{"config.json", fixture("config.json")},
          {"vocab.txt", fixture("vocab.txt")},
          {"tokenizer_config.json", fixture("tokenizer_config.json")},
          {"model.safetensors", weights, true}};
}

// Serves `files` the way huggingface.co does: plain files answer the resolve URL, LFS files redirect to a
// storage URL; files not listed answer 404 EntryNotFound. `served_content` overrides what the storage sends.
void serve_model(FakeServer& server, const std::string& repo, const std::vector<ModelFile>& files,
                 const std::map<std::string, std::string>& served_content = {}) {
  const std::vector<std::string> all = {"config.json",    "model.safetensors",     "pytorch_model.bin",      "vocab.txt",
                                        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
  for (const std::string& revision : {std::string("main"), kCommit}) {
    for (const auto& name : all) {
      Route route;
      route.status = 404;
      route.headers = {{"X-Error-Code", "EntryNotFound"}, {"X-Repo-Commit", kCommit}};
      for (const auto& file : files) {
        if (file.name != name) continue;
        if (file.lfs) {
          route.status = 302;
          route.headers = {{"Location", server.url() + "/lfs/" + file.etag()},
                           {"X-Linked-Etag", "\"" + file.etag() + "\""},
                           {"X-Linked-Size", std::to_string(file.content.size())},
                           {"ETag", "\"not-the-blob\""},
                           {"X-Repo-Commit", kCommit}};
          Route blob;
          const auto it = served_content.find(file.name);
          blob.body = it == served_content.end() ? file.content : it->second;
          server.set("/lfs/" + file.etag(), blob);
        } else {
          route.status = 200;
          route.headers = {{"ETag", "\"" + file.etag() + "\""}, {"X-Repo-Commit", kCommit}};
          route.body = file.content;
        }
      }
      server.set(fmt::format("/{}/resolve/{}/{}", repo, revision, name), route);
    }
  }
}

HubOptions test_options(const std::string& endpoint, const fs::path& cache) {
  HubOptions options;
  options.endpoint = endpoint;
  options.cache_dir = cache;
  options.token = "hf_secret_test_token";
  options.retry_delay_ms = 0;
  options.max_retries = 0;
  options.progress = false;
  options.quiet = true;
  options.connect_timeout_s = 5;
  options.stall_timeout_s = 5;
  return options;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}


// Clears the HF_* variables for the test's lifetime and puts them back afterwards.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : {"HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN",
                             "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_OFFLINE", "XDG_CACHE_HOME",
                             "ELECTRA_DATA"}) {
      const char* value = std::getenv(name);
      saved_[name] = value ? std::optional<std::string>(value) : std::nullopt;
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        ::setenv(name.c_str(), value->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};


std::vector<fs::path> files_under(const fs::path& dir) { return list_files_recursive(dir); }

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-4 test vectors", "[hub]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 pieces;  // the same bytes fed in uneven chunks
  for (size_t at = 0, step = 1; at < million.size(); at += step, step = step * 3 % 997 + 1) {
    pieces.update(std::string_view(million).substr(at, step));
  }
  CHECK(pieces.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  CHECK(is_sha256_hex(sha256_hex("x")));
  CHECK_FALSE(is_sha256_hex("0123"));
}

TEST_CASE("hub model ids parse into repo and revision", "[hub]") {
  CHECK(parse_model_id("tunib/electra-ko-en-small").repo == "tunib/electra-ko-en-small");
  CHECK(parse_model_id("tunib/electra-ko-en-small").revision == "main");
  CHECK(parse_model_id("org/name@v1.0").revision == "v1.0");
  CHECK(parse_model_id("org/name@refs/pr/1").revision == "refs/pr/1");
  CHECK(parse_model_id("bert-base-uncased").repo == "bert-base-uncased");
  CHECK(repo_folder_name("google/electra-small-discriminator") == "models--google--electra-small-discriminator");
  CHECK_THROWS_AS(parse_model_id("a/b/c"), std::invalid_argument);
  CHECK_THROWS_AS(parse_model_id("org/..name"), std::invalid_argument);
  CHECK_THROWS_AS(parse_model_id("org/name@"), std::invalid_argument);
  CHECK_THROWS_AS(parse_model_id("org/name@../../x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_model_id("org/na me"), std::invalid_argument);
  CHECK_THROWS_AS(resolve_model("./no/such/dir", HubOptions{}), std::invalid_argument);
  TempDir dir("localdir");
  CHECK(resolve_model(dir.path.string(), HubOptions{}) == dir.path);
}

TEST_CASE("hub options follow the HF environment variables", "[hub]") {
  EnvGuard guard;
  TempDir home("hfhome");
  ::setenv("HF_HOME", home.path.c_str(), 1);
  write_file_atomic(home.path / "token", "hf_from_file\n");
  ::setenv("HF_ENDPOINT", "https://mirror.example/", 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  HubOptions options = HubOptions::from_environment();
  CHECK(options.cache_dir == home.path / "hub");
  CHECK(options.endpoint == "https://mirror.example");
  CHECK(options.token == "hf_from_file");
  CHECK(options.offline);
  ::setenv("HF_HUB_CACHE", (home.path / "elsewhere").c_str(), 1);
  ::setenv("HF_TOKEN", "hf_from_env", 1);
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  options = HubOptions::from_environment();
  CHECK(options.cache_dir == home.path / "elsewhere");
  CHECK(options.token == "hf_from_env");
  CHECK_FALSE(options.offline);
}

TEST_CASE("hub downloads into the huggingface_hub cache layout and reuses it without a request", "[hub]") {
  FakeServer server;
  const auto files = tiny_model();
  serve_model(server, "org/tiny", files);
  TempDir cache("cache");
  const HubOptions options = test_options(server.url(), cache.path);

  const fs::path dir = resolve_model("org/tiny", options);
  const fs::path storage = cache.path / "models--org--tiny";
  CHECK(dir == storage / "snapshots" / kCommit);
  CHECK(read_file(storage / "refs" / "main") == kCommit);
  for (const auto& file : files) {
    INFO(file.name);
    REQUIRE(fs::is_symlink(dir / file.name));
    CHECK(fs::read_symlink(dir / file.name) == fs::path("../../blobs") / file.etag());
    CHECK(read_file(dir / file.name) == file.content);
    CHECK(read_file(storage / "blobs" / file.etag()) == file.content);
  }
  CHECK(fs::exists(storage / ".no_exist" / kCommit / "special_tokens_map.json"));
  CHECK_FALSE(fs::exists(dir / "pytorch_model.bin"));
  for (const auto& path : files_under(cache.path)) CHECK_FALSE(contains(path.string(), ".incomplete"));

  // The token goes to the hub, never to the storage the LFS file redirects to.
  const auto lfs = server.seen_path("/lfs/" + files[3].etag());
  REQUIRE(lfs.size() == 1);
  CHECK_FALSE(lfs[0].header("authorization"));
  const auto config = server.seen_path("/org/tiny/resolve/main/config.json");
  REQUIRE(config.size() == 2);  // HEAD for the metadata, GET for the content
  CHECK(config[0].method == "HEAD");
  CHECK(config[1].method == "GET");
  for (const auto& request : config) {
    CHECK(request.header("authorization") == std::optional<std::string>("Bearer hf_secret_test_token"));
  }

  const size_t before = server.count();
  CHECK(resolve_model("org/tiny", options) == dir);
  CHECK(resolve_model("org/tiny@" + kCommit, options) == dir);
  CHECK(server.count() == before);  // cache hits: no request at all

  HubOptions refresh = options;  // an explicit refresh asks the hub again but downloads nothing new
  refresh.refresh = true;
  const ModelSnapshot snap = fetch_model(parse_model_id("org/tiny"), refresh);
  CHECK(snap.downloaded.empty());
  CHECK(server.count() > before);
}

TEST_CASE("hub takes tokenizer.json for a repo without vocab.txt (as transformers 5 saves it)", "[hub]") {
  FakeServer server;
  const fs::path tokenizer_fixtures = fs::path(electra::test::fixtures_dir()) / "tokenizer" / "transformers5";
  auto files = tiny_model();
  files.erase(files.begin() + 1);  // vocab.txt
  files.push_back({"tokenizer.json", read_file(tokenizer_fixtures / "tokenizer.json")});
  serve_model(server, "org/json-only", files);
  TempDir cache("json_only");
  const HubOptions options = test_options(server.url(), cache.path);
  const ModelSnapshot snap = fetch_model(parse_model_id("org/json-only"), options);
  CHECK(std::find(snap.files.begin(), snap.files.end(), "tokenizer.json") != snap.files.end());
  CHECK_FALSE(fs::exists(snap.dir / "vocab.txt"));
  CHECK(electra::Tokenizer::from_dir(snap.dir).vocab_size() == 8000);
  HubOptions offline = options;  // complete in the cache: offline use needs no vocab.txt either
  offline.offline = true;
  CHECK(fetch_model(parse_model_id("org/json-only"), offline).dir == snap.dir);

  // Neither file: the error says so.
  files.pop_back();
  serve_model(server, "org/no-vocab", files);
  std::string error = "no error";
  try {
    fetch_model(parse_model_id("org/no-vocab"), options);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  CHECK(contains(error, "has neither vocab.txt nor tokenizer.json"));

  // A repo with vocab.txt never asks for tokenizer.json.
  serve_model(server, "org/tiny", tiny_model());
  fetch_model(parse_model_id("org/tiny"), options);
  CHECK(server.seen_path("/org/tiny/resolve/main/tokenizer.json").empty());
}

TEST_CASE("hub finds a cache written by huggingface_hub without a request", "[hub]") {
  TempDir cache("pycache");
  const fs::path storage = cache.path / "models--tunib--electra-ko-en-small";
  const auto files = tiny_model();
  // The layout huggingface_hub writes: blobs named by ETag, refs/main holding the commit, relative symlinks.
  for (const auto& file : files) {
    write_file_atomic(storage / "blobs" / file.etag(), file.content);
    fs::create_directories(storage / "snapshots" / kCommit);
    fs::create_symlink(fs::path("../../blobs") / file.etag(), storage / "snapshots" / kCommit / file.name);
  }
  fs::create_directories(storage / ".no_exist" / kCommit);
  write_file_atomic(storage / ".no_exist" / kCommit / "special_tokens_map.json", "");
  write_file_atomic(storage / "refs" / "main", kCommit);

  FakeServer server;  // nothing is served: any request would fail the count below
  HubOptions options = test_options(server.url(), cache.path);
  options.verify = true;  // hashes the LFS blob, still no request
  const fs::path dir = resolve_model("tunib/electra-ko-en-small", options);
  CHECK(dir == storage / "snapshots" / kCommit);
  CHECK(read_file(dir / "config.json") == files[0].content);
  CHECK(server.count() == 0);
  options.offline = true;
  CHECK(resolve_model("tunib/electra-ko-en-small", options) == dir);
  CHECK(server.count() == 0);
}

TEST_CASE("hub resumes a download after the connection drops", "[hub]") {
  FakeServer server;
  const auto files = tiny_model();
  serve_model(server, "org/tiny", files);
  const std::string lfs_path = "/lfs/" + files[3].etag();
  Route cut;
  cut.body = files[3].content;
  cut.cut_after = 100000;
  cut.cuts_left = 1;
  server.set(lfs_path, cut);
  TempDir cache("resume");
  HubOptions options = test_options(server.url(), cache.path);
  const fs::path storage = cache.path / "models--org--tiny";
  const fs::path incomplete = storage / "blobs" / (files[3].etag() + ".incomplete");

  SECTION("within one call, by retrying") {
    options.max_retries = 2;
    const fs::path dir = resolve_model("org/tiny", options);
    CHECK(read_file(dir / "model.safetensors") == files[3].content);
    const auto gets = server.seen_path(lfs_path);
    REQUIRE(gets.size() == 2);
    CHECK_FALSE(gets[0].header("range"));
    CHECK(gets[1].header("range") == std::optional<std::string>("bytes=100000-"));
  }
  SECTION("in the next call, from the partial file") {
    const std::string message = error_of([&] { resolve_model("org/tiny", options); });
    CHECK(contains(message, "stopped at"));
    CHECK(contains(message, "run the command again to resume"));
    REQUIRE(fs::exists(incomplete));
    CHECK(fs::file_size(incomplete) == 100000);
    CHECK_FALSE(fs::exists(storage / "blobs" / files[3].etag()));  // never a half file under the real name
    CHECK_FALSE(fs::exists(storage / "snapshots" / kCommit / "model.safetensors"));
    const fs::path dir = resolve_model("org/tiny", options);
    CHECK(read_file(dir / "model.safetensors") == files[3].content);
    CHECK_FALSE(fs::exists(incomplete));
    const auto gets = server.seen_path(lfs_path);
    REQUIRE(gets.size() == 2);
    CHECK(gets[1].header("range") == std::optional<std::string>("bytes=100000-"));
  }
}

TEST_CASE("hub reads the headers of an answer and refuses unusable metadata", "[hub]") {
  http::Response response;
  for (const char* line : {"HTTP/1.1 302 Found\r\n", "X-Repo-Commit: abc123\r\n", "x-linked-etag:  W/\"abc-1\"\r\n",
                           "X-Linked-Size:\t42\r\n", "Location: https://cdn.test/blob\r\n", "no colon here\r\n", "\r\n"})
    http::add_header_line(response, line);
  response.status = 302;
  CHECK(response.header("x-repo-commit") == std::optional<std::string>("abc123"));
  CHECK(response.header("x-linked-size") == std::optional<std::string>("42"));
  const std::string url = "https://hub.test/org/m/resolve/main/model.safetensors";
  auto meta = file_metadata(response, "model.safetensors", url, "https://hub.test");
  REQUIRE(meta);
  CHECK(meta->exists);
  CHECK(meta->etag == "abc-1");
  CHECK(meta->size == std::optional<int64_t>(42));
  CHECK(meta->location == "https://cdn.test/blob");

  http::add_header_line(response, "Content-Range: bytes 100-199/200\r\n");
  CHECK(http::content_range_start(response) == 100);
  http::add_header_line(response, "Content-Range: bytes x-1/2\r\n");
  CHECK(http::content_range_start(response) == -1);

  SECTION("a negative or non-numeric size is refused with the value and the URL") {
    for (const char* size : {"-5", "lots"}) {
      response.headers["x-linked-size"] = size;
      const std::string message = error_of([&] { file_metadata(response, "model.safetensors", url, "https://hub.test"); });
      CHECK(contains(message, fmt::format("bad size '{}'", size)));
      CHECK(contains(message, url));
    }
  }
  SECTION("a commit or ETag that could escape the cache is refused") {
    response.headers["x-repo-commit"] = "../../etc";
    CHECK_THROWS_AS(file_metadata(response, "model.safetensors", url, "https://hub.test"), std::runtime_error);
  }
  SECTION("a 404 for a missing entry is an absent file; other errors are the caller's to explain") {
    response.status = 404;
    response.headers["x-error-code"] = "EntryNotFound";
    meta = file_metadata(response, "tokenizer_config.json", url, "https://hub.test");
    REQUIRE(meta);
    CHECK_FALSE(meta->exists);
    response.headers["x-error-code"] = "RepoNotFound";
    CHECK_FALSE(file_metadata(response, "config.json", url, "https://hub.test"));
    http::add_header_line(response, "HTTP/1.1 500 Internal Server Error\r\n");
    CHECK(response.headers.empty());  // a status line starts a new answer
  }
}

TEST_CASE("hub explains 404, 401 and 403 in terms a user can act on", "[hub]") {
  FakeServer server;
  TempDir cache("errors");
  const HubOptions options = test_options(server.url(), cache.path);
  Route missing;
  missing.status = 404;
  missing.headers = {{"X-Error-Code", "RepoNotFound"}};
  server.set("/org/missing/resolve/main/config.json", missing);
  std::string message = error_of([&] { resolve_model("org/missing", options); });
  CHECK(contains(message, "'org/missing'"));
  CHECK(contains(message, "not found"));
  CHECK_THROWS_AS(resolve_model("org/missing", options), std::runtime_error);

  Route revision;
  revision.status = 404;
  revision.headers = {{"X-Error-Code", "RevisionNotFound"}};
  server.set("/org/tiny/resolve/v9/config.json", revision);
  CHECK(contains(error_of([&] { resolve_model("org/tiny@v9", options); }), "revision 'v9'"));

  Route unauthorized;
  unauthorized.status = 401;
  server.set("/org/private/resolve/main/config.json", unauthorized);
  message = error_of([&] { resolve_model("org/private", options); });
  CHECK(contains(message, "HF_TOKEN"));
  CHECK_FALSE(contains(message, options.token));  // the token is never printed

  Route gated;
  gated.status = 403;
  gated.headers = {{"X-Error-Code", "GatedRepo"}};
  server.set("/org/gated/resolve/main/config.json", gated);
  message = error_of([&] { resolve_model("org/gated", options); });
  CHECK(contains(message, "gated"));
  CHECK(contains(message, server.url() + "/org/gated"));
  CHECK_FALSE(contains(message, options.token));
  CHECK_FALSE(fs::exists(cache.path / "models--org--missing" / "snapshots"));
}

TEST_CASE("hub offline mode uses only the cache and names what is missing", "[hub]") {
  FakeServer server;
  TempDir cache("offline");
  HubOptions options = test_options(server.url(), cache.path);
  options.offline = true;
  const std::string message = error_of([&] { resolve_model("org/tiny", options); });
  CHECK(contains(message, "HF_HUB_OFFLINE"));
  CHECK(contains(message, "config.json"));
  CHECK(contains(message, "model.safetensors"));
  CHECK_THROWS_AS(resolve_model("org/tiny", options), std::runtime_error);
  CHECK(server.count() == 0);
}

TEST_CASE("hub reports an unreachable endpoint and falls back to a complete cache", "[hub]") {
  int closed_port = 0;
  {
    FakeServer probe;  // take a free port, then free it again
    closed_port = std::stoi(probe.url().substr(probe.url().rfind(':') + 1));
  }
  TempDir cache("unreachable");
  HubOptions options = test_options(fmt::format("http://127.0.0.1:{}", closed_port), cache.path);
  const std::string message = error_of([&] { resolve_model("org/tiny", options); });
  CHECK(contains(message, "cannot reach 127.0.0.1"));
  CHECK(contains(message, "network"));

  FakeServer server;
  serve_model(server, "org/tiny", tiny_model());
  const fs::path dir = resolve_model("org/tiny", test_options(server.url(), cache.path));
  options.refresh = true;  // asks the hub, cannot reach it, uses what it has
  CHECK(resolve_model("org/tiny", options) == dir);
}

TEST_CASE("hub detects a corrupted blob by its hash", "[hub]") {
  FakeServer server;
  const auto files = tiny_model();
  TempDir cache("corrupt");
  HubOptions options = test_options(server.url(), cache.path);
  const fs::path storage = cache.path / "models--org--tiny";
  const fs::path blob = storage / "blobs" / files[3].etag();

  SECTION("sent corrupted by the server") {
    std::string bad = files[3].content;
    bad[1234] ^= 0x40;
    serve_model(server, "org/tiny", files, {{"model.safetensors", bad}});
    const std::string message = error_of([&] { resolve_model("org/tiny", options); });
    CHECK(contains(message, "sha256"));
    CHECK(contains(message, "model.safetensors"));
    CHECK_FALSE(fs::exists(blob));
    CHECK_FALSE(fs::exists(blob.string() + ".incomplete"));
    CHECK_FALSE(fs::exists(storage / "snapshots" / kCommit / "model.safetensors"));
  }
  SECTION("corrupted on disk, found by --verify and downloaded again") {
    serve_model(server, "org/tiny", files);
    const fs::path dir = resolve_model("org/tiny", options);
    std::string on_disk = read_file(blob);
    on_disk[10] ^= 0x01;
    fs::remove(blob);
    write_file_atomic(blob, on_disk);
    const size_t before = server.count();
    options.verify = true;
    HubOptions offline = options;
    offline.offline = true;
    CHECK_THROWS_AS(resolve_model("org/tiny", offline), std::runtime_error);  // removed, cannot refetch offline
    CHECK(resolve_model("org/tiny", options) == dir);
    CHECK(read_file(dir / "model.safetensors") == files[3].content);
    CHECK(server.count() > before);
  }
}

namespace {

std::string make_archive(bool zip, const std::vector<std::pair<std::string, std::string>>& entries) {
  struct archive* writer = archive_write_new();
  if (zip) {
    archive_write_set_format_zip(writer);
  } else {
    archive_write_set_format_pax_restricted(writer);
    archive_write_add_filter_gzip(writer);
  }
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  REQUIRE(archive_write_open_memory(writer, buffer.data(), buffer.size(), &used) == ARCHIVE_OK);
  for (const auto& [name, content] : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    REQUIRE(archive_write_header(writer, entry) == ARCHIVE_OK);
    archive_write_data(writer, content.data(), content.size());
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
  return std::string(buffer.data(), used);
}

DataOptions data_options(const fs::path& sources) {
  DataOptions options;
  options.data_sources = sources;
  options.retry_delay_ms = 0;
  options.max_retries = 1;
  options.progress = false;
  options.quiet = true;
  options.connect_timeout_s = 5;
  options.stall_timeout_s = 5;
  return options;
}

}  // namespace

TEST_CASE("task data downloads, unpacks archives, splits by ids and records a manifest", "[hub]") {
  FakeServer server;
  TempDir root("data");
  const std::string ratings = fixture("ratings_test.txt");
  const std::string train = "sentence\tlabel\nhello\t1\n";
  const std::string dev = "sentence\tlabel\nworld\t0\n";
  const std::string paws = "id\tsentence1\tsentence2\tlabel\n1\t가\t나\t1\n";
  Route plain;
  plain.body = ratings;
  plain.cut_after = 50;  // the first attempt is cut: the retry resumes
  plain.cuts_left = 1;
  server.set("/nsmc/ratings_test.txt", plain);
  Route zip;
  zip.body = make_archive(true, {{"SST-2/train.tsv", train}, {"SST-2/dev.tsv", dev}, {"SST-2/original/x.txt", "x"}});
  server.set("/glue/SST-2.zip", zip);
  Route tgz;
  tgz.body = make_archive(false, {{"./x-final/en/dev_2k.tsv", "other"}, {"./x-final/ko/dev_2k.tsv", paws}});
  server.set("/paws/x-final.tar.gz", tgz);
  Route mrpc_source;
  mrpc_source.body = "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n1\t11\t12\ta\tb\r\n0\t21\t22\tc\td\r\n1\t31\t32\te\tf\r\n";
  server.set("/mrpc/msr_paraphrase_train.txt", mrpc_source);
  Route mrpc_ids;
  mrpc_ids.body = "21\t22\n";
  server.set("/mrpc/dev_ids.tsv", mrpc_ids);

  const fs::path sources = root.path / "sources.yaml";
  write_file_atomic(sources, fmt::format(R"(suites:
  mini: [nsmc, sst2]
tasks:
  nsmc:
    source: test
    files:
      - {{name: ratings_test.txt, url: "{0}/nsmc/ratings_test.txt"}}
  sst2:
    source: test
    files:
      - {{name: train.tsv, url: "{0}/glue/SST-2.zip", member: SST-2/train.tsv}}
      - {{name: dev.tsv, url: "{0}/glue/SST-2.zip", member: SST-2/dev.tsv}}
  paws:
    source: test
    files:
      - {{name: dev_2k.tsv, url: "{0}/paws/x-final.tar.gz", member: x-final/ko/dev_2k.tsv}}
  mrpc:
    source: test
    files:
      - name: train.tsv
        url: "{0}/mrpc/msr_paraphrase_train.txt"
        split_by_ids: {{ids_url: "{0}/mrpc/dev_ids.tsv", keep: unlisted, id_columns: [1, 2]}}
      - name: dev.tsv
        url: "{0}/mrpc/msr_paraphrase_train.txt"
        split_by_ids: {{ids_url: "{0}/mrpc/dev_ids.tsv", keep: listed, id_columns: [1, 2]}}
  moved:
    source: test
    files:
      - {{name: a.tsv, url: "{0}/gone/a.tsv"}}
  wrong-member:
    source: test
    files:
      - {{name: test.tsv, url: "{0}/glue/SST-2.zip", member: SST-2/test.tsv}}
)",
                                         server.url()));
  const DataOptions options = data_options(sources);
  const fs::path data = root.path / "data";

  CHECK(expand_data_targets("mini", options) == std::vector<std::string>{"nsmc", "sst2"});
  CHECK(expand_data_targets("SST2", options) == std::vector<std::string>{"sst2"});
  CHECK_THROWS_AS(expand_data_targets("nope", options), std::invalid_argument);
  CHECK_THROWS_AS(ensure_task_data("nope", data, options), std::invalid_argument);

  const DataManifest nsmc = ensure_task_data("nsmc", data, options);
  CHECK(read_file(data / "nsmc" / "ratings_test.txt") == ratings);
  const auto gets = server.seen_path("/nsmc/ratings_test.txt");
  REQUIRE(gets.size() == 2);
  CHECK(gets[1].header("range") == std::optional<std::string>("bytes=50-"));
  REQUIRE(nsmc.files.size() == 1);
  CHECK(nsmc.files[0].sha256 == sha256_hex(ratings));
  CHECK(nsmc.files[0].size == static_cast<int64_t>(ratings.size()));
  const auto manifest = nlohmann::json::parse(read_file(data / "nsmc" / "manifest.json"));
  CHECK(manifest["files"][0]["url"] == server.url() + "/nsmc/ratings_test.txt");
  CHECK(manifest["files"][0]["sha256"] == sha256_hex(ratings));
  CHECK(manifest["files"][0]["size"] == ratings.size());
  CHECK(manifest["files"][0]["date"].get<std::string>().size() == 20);

  const DataManifest sst2 = ensure_task_data("sst2", data, options);
  CHECK(read_file(data / "sst2" / "train.tsv") == train);
  CHECK(read_file(data / "sst2" / "dev.tsv") == dev);
  CHECK_FALSE(fs::exists(data / "sst2" / "x.txt"));
  CHECK(server.seen_path("/glue/SST-2.zip").size() == 1);  // one archive download for both members
  CHECK(sst2.files[1].member == "SST-2/dev.tsv");
  CHECK_FALSE(fs::exists(data / ".downloads"));  // archives are removed once unpacked

  ensure_task_data("paws", data, options);
  CHECK(read_file(data / "paws" / "dev_2k.tsv") == paws);

  ensure_task_data("mrpc", data, options);
  CHECK(read_file(data / "mrpc" / "train.tsv") ==
        "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t11\t12\ta\tb\n1\t31\t32\te\tf\n");
  CHECK(read_file(data / "mrpc" / "dev.tsv") == "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t21\t22\tc\td\n");

  const size_t before = server.count();
  CHECK(ensure_task_data("sst2", data, options).downloaded.empty());
  CHECK(server.count() == before);  // present: no request

  DataOptions offline = options;
  offline.offline = true;
  CHECK(ensure_task_data("nsmc", data, offline).files.size() == 1);
  const std::string message = error_of([&] { ensure_task_data("nsmc", root.path / "empty", offline); });
  CHECK(contains(message, "ratings_test.txt"));
  CHECK(contains(message, "--offline"));

  CHECK(contains(error_of([&] { ensure_task_data("moved", data, options); }), "HTTP 404"));
  CHECK_FALSE(fs::exists(data / "moved" / "a.tsv"));
  const std::string member_message = error_of([&] { ensure_task_data("wrong-member", data, options); });
  CHECK(contains(member_message, "SST-2/test.tsv"));
  CHECK(contains(member_message, "SST-2/train.tsv"));  // lists what the archive has
}

TEST_CASE("task data tables refuse path traversal and unknown keys", "[hub]") {
  TempDir root("badtable");
  const fs::path sources = root.path / "sources.yaml";
  write_file_atomic(sources, "tasks:\n  x:\n    source: s\n    files:\n      - {name: a, url: \"http://127.0.0.1:1/a.zip\", "
                             "member: ../../etc/passwd}\n");
  CHECK_THROWS_AS(ensure_task_data("x", root.path, data_options(sources)), std::invalid_argument);
  write_file_atomic(sources, "tasks:\n  x:\n    source: s\n    files:\n      - {name: ../a, url: \"http://127.0.0.1:1/a\"}\n");
  CHECK_THROWS_AS(ensure_task_data("x", root.path, data_options(sources)), std::invalid_argument);
  write_file_atomic(sources, "tasks:\n  x:\n    source: s\n    files:\n      - {name: a, url: u, mirror: m}\n");
  const std::string message = error_of([&] { ensure_task_data("x", root.path, data_options(sources)); });
  CHECK(contains(message, "mirror"));
  CHECK(contains(message, "sources.yaml:5"));
}

TEST_CASE("task data reuses a file another task took from the same archive member", "[hub]") {
  FakeServer server;
  TempDir root("sibling");
  Route zip;
  zip.body = make_archive(true, {{"MNLI/train.tsv", "t\n"}, {"MNLI/dev_matched.tsv", "m\n"}, {"MNLI/dev_mismatched.tsv", "mm\n"}});
  server.set("/MNLI.zip", zip);
  const fs::path sources = root.path / "sources.yaml";
  write_file_atomic(sources, fmt::format(R"(tasks:
  mnli:
    source: test
    files:
      - {{name: train.tsv, url: "{0}/MNLI.zip", member: MNLI/train.tsv}}
      - {{name: dev_matched.tsv, url: "{0}/MNLI.zip", member: MNLI/dev_matched.tsv}}
  mnli-mm:
    source: test
    files:
      - {{name: train.tsv, url: "{0}/MNLI.zip", member: MNLI/train.tsv}}
      - {{name: dev_mismatched.tsv, url: "{0}/MNLI.zip", member: MNLI/dev_mismatched.tsv}}
)",
                                         server.url()));
  const DataOptions options = data_options(sources);
  ensure_task_data("mnli", root.path, options);
  CHECK(server.count() == 1);
  DataOptions offline = options;
  offline.offline = true;
  const std::string message = error_of([&] { ensure_task_data("mnli-mm", root.path, offline); });
  CHECK(contains(message, "dev_mismatched.tsv"));
  const DataManifest mm = ensure_task_data("mnli-mm", root.path, options);
  CHECK(read_file(root.path / "mnli-mm" / "train.tsv") == "t\n");
  CHECK(read_file(root.path / "mnli-mm" / "dev_mismatched.tsv") == "mm\n");
  CHECK(server.count() == 2);  // the archive again, for the member no sibling had
  CHECK(mm.files[0].url == server.url() + "/MNLI.zip");
}

TEST_CASE("the shipped data table covers both suites", "[hub]") {
  const DataOptions options;  // configs/data_sources.yaml of the source tree
  const auto korean = expand_data_targets("korean", options);
  const auto glue = expand_data_targets("glue", options);
  CHECK(korean.size() == 8);
  CHECK(glue.size() == 8);
  CHECK(expand_data_targets("all", options).size() == 18);  // and mnli-mm, squad
  CHECK(expand_data_targets("naver_ner", options) == std::vector<std::string>{"naver-ner"});
}

TEST_CASE("electra download model and data run end to end", "[hub]") {
  EnvGuard guard;
  FakeServer server;
  serve_model(server, "org/tiny", tiny_model());
  Route ratings;
  ratings.body = fixture("ratings_test.txt");
  server.set("/nsmc/ratings_test.txt", ratings);
  TempDir root("cli");
  ::setenv("HF_ENDPOINT", server.url().c_str(), 1);
  ::setenv("HF_HUB_CACHE", (root.path / "hub").c_str(), 1);

  auto [status, output] = test::run_electra_merged("download model org/tiny");
  INFO(output);
  CHECK(status == 0);
  CHECK(contains(output, kCommit));
  CHECK(contains(output, "model.safetensors (downloaded)"));
  CHECK(fs::exists(root.path / "hub" / "models--org--tiny" / "snapshots" / kCommit / "vocab.txt"));

  ::setenv("HF_HUB_OFFLINE", "1", 1);
  std::tie(status, output) = test::run_electra_merged("download model org/other");
  CHECK(status == 1);
  CHECK(contains(output, "electra: error:"));
  CHECK(contains(output, "HF_HUB_OFFLINE"));

  const fs::path sources = root.path / "sources.yaml";
  write_file_atomic(sources, fmt::format("tasks:\n  nsmc:\n    source: test\n    files:\n"
                                         "      - {{name: ratings_train.txt, url: \"{0}/nsmc/ratings_test.txt\"}}\n"
                                         "      - {{name: ratings_test.txt, url: \"{0}/nsmc/ratings_test.txt\"}}\n",
                                         server.url()));
  std::tie(status, output) = test::run_electra_merged(fmt::format("download data nsmc --data-dir '{}' --sources '{}'",
                                                     (root.path / "data").string(), sources.string()));
  CHECK(status == 0);
  CHECK(read_file(root.path / "data" / "nsmc" / "ratings_test.txt") == fixture("ratings_test.txt"));
  CHECK(contains(output, "(downloaded)"));
  CHECK(contains(output, "test ratings_test.txt: 3 examples"));  // read back with the nsmc adapter
}

TEST_CASE("electra finetune fetches its hub model and task data by itself; --offline downloads nothing", "[hub]") {
  EnvGuard guard;
  FakeServer server;
  const fs::path tiny = fs::path(electra::source_dir()) / "examples" / "tiny-electra";
  const fs::path nsmc = fs::path(electra::source_dir()) / "examples" / "data" / "nsmc";
  serve_model(server, "org/tiny-electra",
              {{"config.json", read_file(tiny / "config.json")},
               {"vocab.txt", read_file(tiny / "vocab.txt")},
               {"tokenizer_config.json", read_file(tiny / "tokenizer_config.json")},
               {"model.safetensors", read_file(tiny / "model.safetensors"), true}});
  for (const std::string name : {"ratings_train.txt", "ratings_test.txt"}) {
    Route route;
    route.body = read_file(nsmc / name);
    server.set("/nsmc/" + name, route);
  }
  TempDir root("finetune");
  ::setenv("HF_ENDPOINT", server.url().c_str(), 1);
  ::setenv("HF_HUB_CACHE", (root.path / "hub").c_str(), 1);
  ::setenv("ELECTRA_DATA", (root.path / "data").c_str(), 1);
  write_file_atomic(root.path / "sources.yaml",
                    fmt::format("tasks:\n  nsmc:\n    source: test\n    files:\n"
                                "      - {{name: ratings_train.txt, url: \"{0}/nsmc/ratings_train.txt\"}}\n"
                                "      - {{name: ratings_test.txt, url: \"{0}/nsmc/ratings_test.txt\"}}\n",
                                server.url()));
  write_file_atomic(root.path / "exp.yaml",
                    "model: org/tiny-electra\ntask: nsmc\ndevice: cpu\n"
                    "data:\n  max_seq_length: 64\n  bucket_multiple: 16\n  dev_from_train: 0.1\n"
                    "optimizer:\n  learning_rate: 1e-3\ntrain:\n  epochs: 1\n  batch_size: 32\n");
  const std::string config = "--threads 1 finetune --config '" + (root.path / "exp.yaml").string() + "'";

  // Offline with an empty cache: a clear error, and not one request.
  auto [status, output] = test::run_electra_merged(config + " --offline --output-dir '" + (root.path / "run0").string() + "'");
  INFO(output);
  CHECK(status == 1);
  CHECK(contains(output, "electra: error:"));
  CHECK(contains(output, "org/tiny-electra"));
  CHECK(contains(output, "--offline"));
  CHECK(server.count() == 0);

  // Online: model and data arrive by themselves, the data with its manifest.
  std::tie(status, output) = test::run_electra_merged(config + " --data-sources '" + (root.path / "sources.yaml").string() +
                                         "' --output-dir '" + (root.path / "run1").string() + "'");
  INFO(output);
  REQUIRE(status == 0);
  CHECK(fs::exists(root.path / "hub" / "models--org--tiny-electra" / "snapshots" / kCommit / "model.safetensors"));
  CHECK(read_file(root.path / "data" / "nsmc" / "ratings_train.txt") == read_file(nsmc / "ratings_train.txt"));
  CHECK(fs::exists(root.path / "data" / "nsmc" / "manifest.json"));
  CHECK(fs::exists(root.path / "run1" / "results.json"));
  const size_t requests = server.count();
  CHECK(requests > 0);

  // Offline again: everything comes from the caches, with no request.
  std::tie(status, output) = test::run_electra_merged(config + " --offline --output-dir '" + (root.path / "run2").string() + "'");
  INFO(output);
  CHECK(status == 0);
  CHECK(fs::exists(root.path / "run2" / "results.json"));
  CHECK(server.count() == requests);

  // Offline with the model cached but the task data gone: the error names the missing file and --offline.
  fs::remove(root.path / "data" / "nsmc" / "ratings_test.txt");
  std::tie(status, output) = test::run_electra_merged(config + " --offline --output-dir '" + (root.path / "run3").string() + "'");
  CHECK(status == 1);
  CHECK(contains(output, "ratings_test.txt"));
  CHECK(contains(output, "--offline"));
  CHECK(server.count() == requests);

  // Two ranks with empty caches: local rank 0 fetches while rank 1 waits, then rank 1 reads the caches. The server
  // sees exactly the requests of one process.
  ::setenv("HF_HUB_CACHE", (root.path / "hub2").c_str(), 1);
  ::setenv("ELECTRA_DATA", (root.path / "data2").c_str(), 1);
  std::tie(status, output) = test::run_electra_merged(config + " --nproc 2 --dist-timeout 60 --data-sources '" +
                                                      (root.path / "sources.yaml").string() + "' --output-dir '" +
                                                      (root.path / "run4").string() + "'");
  INFO(output);
  REQUIRE(status == 0);
  CHECK(fs::exists(root.path / "run4" / "results.json"));
  CHECK(server.count() == 2 * requests);
}

TEST_CASE("the shipped data table lists every file of every task adapter", "[hub]") {
  register_builtin_tasks();
  const DataOptions options;
  for (const auto& name : task_names()) {
    INFO(name);
    std::set<std::string> listed;
    for (const auto& record : task_data_sources(name, options)) listed.insert(record.name);
    for (const auto& [split, files] : find_task(name).files()) {
      for (const auto& file : files) CHECK(listed.count(file) == 1);
    }
  }
}

TEST_CASE("the shipped data table, served by a fake publisher, yields files every adapter reads", "[hub]") {
  register_builtin_tasks();
  FakeServer server;
  TempDir root("shipped");
  const fs::path samples = fs::path(electra::test::fixtures_dir()) / "tasks";
  // Point every URL of the shipped table at the fake server.
  std::string table = read_file(fs::path(electra::source_dir()) / "configs" / "data_sources.yaml");
  const std::regex url_pattern(R"(https://[^\s"'},]+)");
  std::map<std::string, std::string> route_of;  // original URL -> path on the fake server
  for (auto it = std::sregex_iterator(table.begin(), table.end(), url_pattern); it != std::sregex_iterator(); ++it) {
    const std::string url = it->str();
    if (!route_of.count(url)) route_of[url] = fmt::format("/f/{}/{}", route_of.size(), url.substr(url.rfind('/') + 1));
  }
  for (const auto& [url, route] : route_of) {
    for (size_t pos = 0; (pos = table.find(url, pos)) != std::string::npos; pos += route.size()) {
      const size_t end = pos + url.size();
      if (end < table.size() && (std::isalnum(static_cast<unsigned char>(table[end])) || table[end] == '.')) continue;
      table.replace(pos, url.size(), server.url() + route);
      pos += server.url().size();
    }
  }
  const fs::path sources = root.path / "sources.yaml";
  write_file_atomic(sources, table);
  const DataOptions options = data_options(sources);

  // Serve each URL: plain files as they are, archives built from the sample files of their members.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> archives;
  std::set<std::pair<std::string, std::string>> in_archive;
  std::string mrpc_source_url, mrpc_ids_url;
  for (const auto& name : expand_data_targets("all", options)) {
    for (const auto& record : task_data_sources(name, options)) {
      const fs::path sample = samples / name / record.name;
      if (name == "mrpc") {
        mrpc_source_url = record.url;
        continue;
      }
      if (!fs::exists(sample)) continue;  // a sibling (mnli-mm) serves it
      const std::string path = record.url.substr(server.url().size());
      if (record.member.empty()) {
        Route route;
        route.body = read_file(sample);
        server.set(path, route);
      } else if (in_archive.insert({record.url, record.member}).second) {
        archives[record.url].emplace_back(record.member, read_file(sample));
      }
    }
  }
  for (const auto& name : {std::string("mnli-mm")}) {
    for (const auto& record : task_data_sources(name, options)) {
      if (in_archive.insert({record.url, record.member}).second) {
        archives[record.url].emplace_back(record.member, read_file(samples / "mnli" / record.name));
      }
    }
  }
  for (const auto& [url, entries] : archives) {
    Route route;
    route.body = make_archive(url.size() > 4 && url.substr(url.size() - 4) == ".zip", entries);
    server.set(url.substr(server.url().size()), route);
  }
  // MRPC: the SentEval file is the train and dev samples together; the id list names the dev rows.
  for (const auto& [url, route] : route_of) {
    if (contains(url, "mrpc_dev_ids")) mrpc_ids_url = route;
  }
  REQUIRE_FALSE(mrpc_ids_url.empty());
  std::string msr = "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n", ids;
  for (const std::string split : {"train.tsv", "dev.tsv"}) {
    const std::string text = read_file(samples / "mrpc" / split);
    size_t start = text.find('\n') + 1;
    for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
      const std::string row = text.substr(start, end - start);
      if (row.empty()) continue;
      msr += row + "\r\n";
      if (split == "dev.tsv") {
        const size_t a = row.find('\t'), b = row.find('\t', a + 1), c = row.find('\t', b + 1);
        ids += row.substr(a + 1, b - a - 1) + "\t" + row.substr(b + 1, c - b - 1) + "\n";
      }
    }
  }
  Route msr_route, ids_route;
  msr_route.body = msr;
  ids_route.body = ids;
  server.set(mrpc_source_url.substr(server.url().size()), msr_route);
  server.set(mrpc_ids_url, ids_route);

  const fs::path data = root.path / "data";
  int64_t mrpc_rows = 0;  // downloaded minus sample rows over both MRPC splits
  for (const auto& name : expand_data_targets("all", options)) {
    INFO(name);
    const DataManifest manifest = ensure_task_data(name, data, options);
    const Task& task = find_task(name);
    const std::string sample_task = name == "mnli-mm" ? "mnli" : name;
    for (const auto& [split, files] : task.files()) {
      for (const auto& file : files) {
        INFO(file);
        const ReadResult got = task.read(manifest.dir / file, ReadOptions{});
        const ReadResult want = task.read(samples / sample_task / file, ReadOptions{});
        // MRPC's samples reuse id pairs across train and dev, so only the split's total is comparable.
        if (name != "mrpc") CHECK(got.examples.size() == want.examples.size());
        if (name == "mrpc") mrpc_rows += static_cast<int64_t>(got.examples.size()) - static_cast<int64_t>(want.examples.size());
        CHECK(got.skipped_by_rule == want.skipped_by_rule);
        if (name != "mrpc") CHECK(read_file(manifest.dir / file) == read_file(samples / sample_task / file));
      }
    }
  }
  CHECK(mrpc_rows == 0);
}
