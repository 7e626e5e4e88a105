#include "hub/http.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>

namespace electra::http {
namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("cannot initialise libcurl");
  });
}

std::string user_agent() {
  return fmt::format("electra/{}; {}", ELECTRA_VERSION, curl_version());
}

std::string host_of(const std::string& url) {
  const auto scheme = url.find("://");
  const size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const auto end = url.find_first_of("/?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Codes where nothing was exchanged with the server: the network, DNS, proxy or TLS is the problem.
bool is_unreachable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
      return true;
    default:
      return false;
  }
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000.0 && unit < 4) {
    bytes /= 1000.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

// One line on stderr, redrawn at most five times a second, only when stderr is a terminal.
class ProgressBar {
 public:
  ProgressBar(bool enabled, std::string label, std::optional<int64_t> total, int64_t initial)
      : enabled_(enabled && ::isatty(STDERR_FILENO) == 1),
        label_(std::move(label)),
        total_(total),
        initial_(initial),
        start_(std::chrono::steady_clock::now()) {}
  ~ProgressBar() { finish(); }

  void update(int64_t bytes, bool force = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!force && shown_ && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    shown_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(bytes - initial_) / seconds : 0.0;
    std::string line = fmt::format("{}  {}", label_, human_bytes(static_cast<double>(bytes)));
    if (total_ && *total_ > 0) {
      line += fmt::format(" / {}  {:3.0f}%", human_bytes(static_cast<double>(*total_)),
                          100.0 * static_cast<double>(bytes) / static_cast<double>(*total_));
    }
    line += fmt::format("  {}/s", human_bytes(rate));
    fmt::print(stderr, "\r{:<79}", line);
    std::fflush(stderr);
  }
  void finish() {
    if (enabled_ && shown_) fmt::print(stderr, "\n");
    shown_ = false;
    enabled_ = false;
  }

 private:
  bool enabled_;
  std::string label_;
  std::optional<int64_t> total_;
  int64_t initial_;
  std::chrono::steady_clock::time_point start_, last_;
  bool shown_ = false;
};

struct Exchange {
  CURL* curl = nullptr;
  Response response;
  // Body handling for GET: bytes of a 2xx answer go to `file` (opened by the caller), others to response.body.
  std::FILE* file = nullptr;
  int64_t resume_from = 0;  // bytes already in the file when the request was sent
  int64_t in_file = 0;      // bytes in the file now
  bool body_started = false;
  bool restart_from_zero = false;  // the server ignored or misread the Range: the file was truncated
  int write_errno = 0;
  ProgressBar* progress = nullptr;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  add_header_line(ex->response, std::string_view(data, bytes));
  return bytes;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status >= 300 || ex->file == nullptr) {
    const size_t room = kMaxErrorBody - std::min(kMaxErrorBody, ex->response.body.size());
    ex->response.body.append(data, std::min(room, bytes));
    return bytes;
  }
  if (!ex->body_started) {
    ex->body_started = true;
    const bool full_body = status == 200 || content_range_start(ex->response) != ex->resume_from;
    if (ex->resume_from > 0 && full_body) {
      if (status != 200) return 0;  // a 206 for another range than asked: abort and restart from zero
      // The server ignored the Range header and sends the whole file: start over.
      if (::ftruncate(::fileno(ex->file), 0) != 0 || std::fseek(ex->file, 0, SEEK_SET) != 0) {
        ex->write_errno = errno;
        return 0;
      }
      ex->in_file = 0;
      ex->restart_from_zero = true;
    }
  }
  if (std::fwrite(data, 1, bytes, ex->file) != bytes) {
    ex->write_errno = errno != 0 ? errno : EIO;
    return 0;
  }
  ex->in_file += static_cast<int64_t>(bytes);
  if (ex->progress) ex->progress->update(ex->in_file);
  return bytes;
}

struct CurlHandle {
  CURL* curl;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
  CurlHandle() : curl(curl_easy_init()) {
    if (!curl) throw std::runtime_error("cannot create a libcurl handle");
  }
  ~CurlHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
};

CURLcode perform(const Request& request, bool head_only, const std::vector<std::string>& extra_headers,
                 Exchange& ex, std::string& error_text) {
  global_init();
  CurlHandle handle;
  ex.curl = handle.curl;
  CURL* curl = handle.curl;
  for (const auto& h : request.headers) handle.headers = curl_slist_append(handle.headers, h.c_str());
  for (const auto& h : extra_headers) handle.headers = curl_slist_append(handle.headers, h.c_str());
  // No transparent compression: sizes and hashes are those of the file itself.
  handle.headers = curl_slist_append(handle.headers, "Accept-Encoding: identity");
  const std::string agent = user_agent();
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, handle.headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, handle.error);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_NOBODY, head_only ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ex);
  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &ex.response.status);
  char* effective = nullptr;
  curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &effective);
  ex.response.effective_url = effective ? effective : request.url;
  error_text = handle.error[0] != 0 ? handle.error : curl_easy_strerror(code);
  ex.curl = nullptr;
  return code;
}

int64_t file_size_or_zero(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

}  // namespace

std::optional<std::string> Response::header(const std::string& lowercase_name) const {
  const auto it = headers.find(lowercase_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

void add_header_line(Response& response, std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    response.headers.clear();  // a new response (after a redirect or a 100 Continue)
    return;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t value_start = colon + 1;
  while (value_start < line.size() && (line[value_start] == ' ' || line[value_start] == '\t')) ++value_start;
  response.headers[name] = std::string(line.substr(value_start));
}

int64_t content_range_start(const Response& response) {
  const auto range = response.header("content-range");
  if (!range) return -1;
  const auto pos = range->find("bytes ");
  if (pos == std::string::npos) return -1;
  try {
    return std::stoll(range->substr(pos + 6));
  } catch (const std::exception&) {
    return -1;
  }
}

Response head(const Request& request) {
  Exchange ex;
  std::string error_text;
  const CURLcode code = perform(request, true, {}, ex, error_text);
  if (code != CURLE_OK) {
    if (is_unreachable(code) || (code == CURLE_OPERATION_TIMEDOUT && ex.response.status == 0)) {
      throw NetworkError(fmt::format("cannot reach {}: {}", host_of(request.url), error_text));
    }
    throw std::runtime_error(fmt::format("request to {} failed: {}", request.url, error_text));
  }
  return ex.response;
}

Response download(const DownloadSpec& spec) {
  if (spec.incomplete.has_parent_path()) std::filesystem::create_directories(spec.incomplete.parent_path());
  int delay_ms = spec.retry_delay_ms;
  std::string last_error;
  for (int attempt = 0; attempt <= spec.max_retries; ++attempt) {
    int64_t have = file_size_or_zero(spec.incomplete);
    if (spec.expected_size && have > *spec.expected_size) {
      std::filesystem::remove(spec.incomplete);  // longer than the file can be: not a prefix of it
      have = 0;
    }
    if (spec.expected_size && have == *spec.expected_size && have > 0) {
      Response done;
      done.status = 200;
      done.effective_url = spec.request.url;
      return done;
    }
    std::FILE* file = std::fopen(spec.incomplete.c_str(), "ab");
    if (!file) {
      throw std::runtime_error(fmt::format("cannot write {}: {}", spec.incomplete.string(), std::strerror(errno)));
    }
    ProgressBar progress(spec.progress, spec.label, spec.expected_size, have);
    Exchange ex;
    ex.file = file;
    ex.resume_from = have;
    ex.in_file = have;
    ex.progress = &progress;
    std::vector<std::string> extra;
    if (have > 0) extra.push_back(fmt::format("Range: bytes={}-", have));
    std::string error_text;
    errno = 0;
    const CURLcode code = perform(spec.request, false, extra, ex, error_text);
    progress.update(ex.in_file, true);
    progress.finish();
    bool closed_ok = std::fflush(file) == 0 && ::fsync(::fileno(file)) == 0;
    if (ex.write_errno == 0 && !closed_ok) ex.write_errno = errno;
    closed_ok = std::fclose(file) == 0 && closed_ok;
    if (ex.write_errno == 0 && !closed_ok) ex.write_errno = errno != 0 ? errno : EIO;
    if (ex.write_errno != 0) {
      throw std::runtime_error(fmt::format(
          "cannot write {}: {} ({} bytes of {} kept there: free space and run again to resume)",
          spec.incomplete.string(), std::strerror(ex.write_errno), file_size_or_zero(spec.incomplete), spec.label));
    }
    const long status = ex.response.status;
    if (code == CURLE_OK) {
      if (status >= 200 && status < 300) {
        if (status == 200 && have > 0 && !ex.restart_from_zero) {
          std::filesystem::resize_file(spec.incomplete, 0);  // an empty 200 answer to a Range request
        }
        return ex.response;
      }
      if (status == 416 && have > 0) {
        // Nothing past what we hold: either complete (size unknown) or not a prefix of this file.
        if (!spec.expected_size) {
          Response done;
          done.status = 200;
          done.effective_url = spec.request.url;
          return done;
        }
        std::filesystem::remove(spec.incomplete);
        last_error = "the server refused to resume (HTTP 416)";
        continue;
      }
      return ex.response;
    }
    if (attempt == 0 && ex.response.status == 0 &&
        (is_unreachable(code) || code == CURLE_OPERATION_TIMEDOUT)) {
      throw NetworkError(fmt::format("cannot reach {}: {}", host_of(spec.request.url), error_text));
    }
    if (code == CURLE_WRITE_ERROR && ex.body_started && ex.write_errno == 0) {
      // A 206 for another range than asked: the partial file cannot be trusted.
      std::filesystem::remove(spec.incomplete);
    }
    last_error = error_text;
    if (attempt < spec.max_retries && delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms = std::min(delay_ms * 2, 8000);
    }
  }
  const int64_t have = file_size_or_zero(spec.incomplete);
  throw std::runtime_error(fmt::format(
      "download of {} from {} stopped at {}{} after {} attempts ({}); the partial file {} is kept: run the "
      "command again to resume",
      spec.label, spec.request.url, human_bytes(static_cast<double>(have)),
      spec.expected_size ? fmt::format(" of {}", human_bytes(static_cast<double>(*spec.expected_size))) : "",
      spec.max_retries + 1, last_error, spec.incomplete.string()));
}

}  // namespace electra::http
