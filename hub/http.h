// Plain HTTP(S) over libcurl for the hub client and dataset downloads: HEAD for metadata and a resumable GET
// into a `.incomplete` file (Range after a dropped connection, progress bar on a terminal). Knows nothing of
// the hub's headers or caches.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace electra::http {

// The host could not be reached at all (DNS, refused connection, TLS, connect timeout): nothing was received.
class NetworkError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Request {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"; may carry credentials, so never printed
  bool follow_redirects = false;
  long connect_timeout_s = 10;
  long stall_timeout_s = 60;  // abort when less than 1 byte/s arrives for this long
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lowercased; of the last response when redirects were followed
  std::string effective_url;
  std::string body;  // the body of a non-2xx answer (first 64 KiB), for error messages

  std::optional<std::string> header(const std::string& lowercase_name) const;
};

// What the header callback does with one line of an answer's header (as libcurl hands it over, CRLF included):
// a status line ("HTTP/...") starts a new response and clears the headers; "Name: value" is kept under the
// lowercased name; anything else is ignored.
void add_header_line(Response& response, std::string_view line);
// Start of a 206 answer's Content-Range ("bytes START-END/TOTAL"), -1 when absent or malformed.
int64_t content_range_start(const Response& response);

// HEAD request; throws NetworkError when the host cannot be reached, std::runtime_error for other failures.
Response head(const Request& request);

struct DownloadSpec {
  Request request;
  std::filesystem::path incomplete;      // bytes already there are kept and resumed with a Range request
  std::optional<int64_t> expected_size;  // when known: a longer file is restarted, progress shows a total
  std::string label;                     // shown in the progress bar and in messages
  int max_retries = 5;                   // further attempts (each resuming) after a connection drops mid-file
  int retry_delay_ms = 1000;             // first wait between attempts, doubled each time (capped at 8 s)
  bool progress = true;                  // progress bar on stderr when stderr is a terminal
};

// Fetches spec.request.url into spec.incomplete. Returns the final response: status 2xx when the whole body
// is in the file, else the HTTP error for the caller to explain (the file is then left as it was).
// Throws NetworkError when the host cannot be reached, std::runtime_error when the transfer keeps failing
// (the partial file is kept for the next resume) or the file cannot be written (disk full, ...).
Response download(const DownloadSpec& spec);

}  // namespace electra::http
